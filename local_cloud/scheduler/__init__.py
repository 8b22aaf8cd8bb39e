"""EventBridge Scheduler, which moto stores but never runs: the template's schedules, due and fired here.

- `provisioner`: AWS::Scheduler::Schedule created on moto, as CloudFormation creates it;
- `expressions`: rate, cron and at expressions, and when each is next due;
- `firing`: `Schedules`, which fires what is due the way Scheduler and Lambda do, retries and dead letters included.
"""
