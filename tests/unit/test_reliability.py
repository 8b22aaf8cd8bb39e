"""Every asynchronous path keeps its failures, alarms on them, and can be written by the service that writes it.

Read from the SAM-translated template.yaml, so a later change cannot quietly drop a dead-letter queue, an alarm
or a key policy statement. Checks test_template.py already makes (every queue encrypted with a set retention,
stream mappings' partial failures and on-failure destinations, the alarm topic's key, the tables' settings) are
not repeated here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from local_cloud.template import ROOT, Template
from tests.unit import test_template

FOURTEEN_DAYS = 1_209_600  # seconds: SQS's longest retention, for messages someone has to look at
LAMBDA_DEFAULT_TIMEOUT = 3
SQS_DEFAULT_VISIBILITY_TIMEOUT = 30
ALARM_TOPIC = {"Ref": "AlarmTopic"}


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


# ---------------------------------------------------------------------------------------------- reading the template


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def referenced_id(template: Template, value: Any) -> str | None:
    """The resource a !Ref, !GetAtt or single-resource !Sub names; None for a literal, a parameter or a pseudo."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((function, argument),) = value.items()
    target: str | None = None
    if function == "Ref":
        target = argument
    elif function == "Fn::GetAtt":
        target = argument[0] if isinstance(argument, list) else argument.split(".")[0]
    elif function == "Fn::Sub":
        text = argument if isinstance(argument, str) else argument[0]
        named = {name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)} & set(template.resources)
        target = next(iter(named)) if len(named) == 1 else None
    return target if target in template.resources else None


ALIAS = "AWS::Lambda::Alias"  # every function is invoked through its live alias (AutoPublishAlias)


def referenced_of_type(template: Template, value: Any, resource_type: str) -> str | None:
    logical_id = referenced_id(template, value)
    if logical_id and resource_type == "AWS::Lambda::Function" and template.resources[logical_id]["Type"] == ALIAS:
        logical_id = referenced_id(template, template.properties(logical_id)["FunctionName"])  # its function
    return logical_id if logical_id and template.resources[logical_id]["Type"] == resource_type else None


def get_att(value: Any) -> tuple[str, str] | None:
    """(logical id, attribute) of a !GetAtt, in either of its spellings."""
    if not isinstance(value, dict) or list(value) != ["Fn::GetAtt"]:
        return None
    argument = value["Fn::GetAtt"]
    logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
    return str(logical_id), str(attribute)


def number(template: Template, value: Any) -> int:
    """A numeric property, with !Ref to a parameter or !If resolved to its local value."""
    return int(template.resolve(value))


def redrive_policy(properties: dict[str, Any]) -> dict[str, Any] | None:
    policy = properties.get("RedrivePolicy")
    return json.loads(policy) if isinstance(policy, str) else policy


def is_fifo(template: Template, queue: str) -> bool:
    return template.properties(queue).get("FifoQueue") is True


def dead_letter_queues(template: Template) -> dict[str, str]:
    """Queue -> what sends it failures: redrive targets, on-failure destinations and target dead-letter configs."""
    senders: dict[str, str] = {}

    def add(value: Any, sender: str) -> None:
        if queue := referenced_of_type(template, value, "AWS::SQS::Queue"):
            senders.setdefault(queue, sender)

    for queue, spec in template.of_type("AWS::SQS::Queue").items():
        if policy := redrive_policy(spec.get("Properties", {})):
            add(policy.get("deadLetterTargetArn"), f"redrive of {queue}")
    for mapping, spec in template.of_type("AWS::Lambda::EventSourceMapping").items():
        add(spec["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"), mapping)
    for config, spec in template.of_type("AWS::Lambda::EventInvokeConfig").items():
        add(spec["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"), config)
    for function, spec in template.of_type("AWS::Lambda::Function").items():
        add(spec["Properties"].get("DeadLetterConfig", {}).get("TargetArn"), function)
    for rule, spec in template.of_type("AWS::Events::Rule").items():
        for target in spec["Properties"].get("Targets", []):
            add(target.get("DeadLetterConfig", {}).get("Arn"), rule)
    for schedule, spec in template.of_type("AWS::Scheduler::Schedule").items():
        add(spec["Properties"]["Target"].get("DeadLetterConfig", {}).get("Arn"), schedule)
    for subscription, spec in template.of_type("AWS::SNS::Subscription").items():
        if policy := redrive_policy(spec["Properties"]):
            add(policy.get("deadLetterTargetArn"), subscription)
    return senders


def queue_consumers(template: Template) -> dict[str, dict[str, dict[str, Any]]]:
    """Queue -> {event source mapping -> its properties} for every Lambda function reading an SQS queue."""
    consumers: dict[str, dict[str, dict[str, Any]]] = {}
    for mapping, spec in template.of_type("AWS::Lambda::EventSourceMapping").items():
        properties = spec["Properties"]
        if queue := referenced_of_type(template, properties["EventSourceArn"], "AWS::SQS::Queue"):
            consumers.setdefault(queue, {})[mapping] = properties
    return consumers


def rule_targets(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    for rule, spec in template.of_type("AWS::Events::Rule").items():
        for target in spec["Properties"].get("Targets", []):
            yield rule, target


def sqs_subscriptions(template: Template) -> Iterator[tuple[str, str]]:
    """(topic, queue) for every SQS subscription, declared as a resource or inline in the topic."""
    for spec in template.of_type("AWS::SNS::Subscription").values():
        properties = spec["Properties"]
        topic = referenced_of_type(template, properties["TopicArn"], "AWS::SNS::Topic")
        queue = referenced_of_type(template, properties["Endpoint"], "AWS::SQS::Queue")
        if properties["Protocol"] == "sqs" and topic and queue:
            yield topic, queue
    for topic, spec in template.of_type("AWS::SNS::Topic").items():
        for subscription in spec.get("Properties", {}).get("Subscription", []):
            queue = referenced_of_type(template, subscription["Endpoint"], "AWS::SQS::Queue")
            if subscription["Protocol"] == "sqs" and queue:
                yield topic, queue


def queue_writers(template: Template) -> dict[str, dict[str, set[str]]]:
    """Queue -> {service principal -> the rules or topics that make that service write to it}.

    EventBridge writes to the queues its rules target and to their targets' dead-letter queues; SNS writes to the
    queues subscribed to a topic and to its subscriptions' dead-letter queues. Both write with their own identity,
    so the queue's policy and key must admit them.
    """
    writers: dict[str, dict[str, set[str]]] = {}

    def add(value: Any, service: str, writer: str) -> None:
        if queue := referenced_of_type(template, value, "AWS::SQS::Queue"):
            writers.setdefault(queue, {}).setdefault(service, set()).add(writer)

    for rule, target in rule_targets(template):
        add(target["Arn"], "events.amazonaws.com", rule)
        add(target.get("DeadLetterConfig", {}).get("Arn"), "events.amazonaws.com", rule)
    for topic, queue in sqs_subscriptions(template):
        add({"Ref": queue}, "sns.amazonaws.com", topic)
    for spec in template.of_type("AWS::SNS::Subscription").values():
        publisher = referenced_of_type(template, spec["Properties"]["TopicArn"], "AWS::SNS::Topic")
        if publisher and (policy := redrive_policy(spec["Properties"])):
            add(policy.get("deadLetterTargetArn"), "sns.amazonaws.com", publisher)
    return writers


def kms_key_of(template: Template, value: Any) -> str | None:
    """The AWS::KMS::Key a KmsMasterKeyId names, directly or through an alias of the template."""
    if alias := referenced_of_type(template, value, "AWS::KMS::Alias"):
        value = template.properties(alias)["TargetKeyId"]
    return referenced_of_type(template, value, "AWS::KMS::Key")


def services_of(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal", {})
    return as_list(principal.get("Service", [])) if isinstance(principal, dict) else []


def allows(statement: dict[str, Any], action: str) -> bool:
    return statement.get("Effect") == "Allow" and any(
        fnmatchcase(action, granted) for granted in as_list(statement.get("Action", []))
    )


def key_lets(template: Template, key: str, service: str, actions: tuple[str, ...]) -> bool:
    statements = [
        statement
        for statement in as_list(template.properties(key)["KeyPolicy"]["Statement"])
        if service in services_of(statement)
    ]
    return all(any(allows(statement, action) for statement in statements) for action in actions)


ENCRYPT_FOR_A_READER = ("kms:GenerateDataKey*", "kms:Decrypt")


def source_arns(template: Template, statement: dict[str, Any]) -> set[str] | None:
    """The resources an aws:SourceArn condition names (None when the statement has no such condition)."""
    values = [
        value
        for operator in statement.get("Condition", {}).values()
        for key, value in operator.items()
        if key.lower() == "aws:sourcearn"
    ]
    if not values:
        return None
    return {referenced_id(template, arn) or str(arn) for value in values for arn in as_list(value)}


def resource_policies(template: Template, policy_type: str, list_property: str, resource: str) -> list[str]:
    """The queue or topic policies of the template set on `resource`: only one of them can take effect."""
    return [
        policy
        for policy, spec in template.of_type(policy_type).items()
        if resource in {referenced_id(template, item) for item in spec["Properties"][list_property]}
    ]


def statements_on(template: Template, policy: str, resource: str) -> list[Any]:
    """The statements of a queue or topic policy whose Resource covers `resource` (by reference, or "*")."""
    return [
        statement
        for statement in as_list(template.properties(policy)["PolicyDocument"]["Statement"])
        if any(
            item == "*" or referenced_id(template, item) == resource for item in as_list(statement.get("Resource", "*"))
        )
    ]


def unscoped_writers(
    template: Template, statements: list[Any], service: str, action: str, writers: set[str]
) -> set[str]:
    """The writers no statement lets `service` perform `action` for, with an aws:SourceArn condition naming them."""
    scoped: set[str] = set()
    for statement in statements:
        if service in services_of(statement) and allows(statement, action):
            scoped |= source_arns(template, statement) or set()
    return writers - scoped


def role_statements(template: Template, role: str) -> list[Any]:
    """Inline statements of a role plus those of the template's policies attached to it."""
    statements = [
        statement
        for policy in template.properties(role).get("Policies", [])
        for statement in as_list(policy["PolicyDocument"]["Statement"])
    ]
    for policy_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for spec in template.of_type(policy_type).values():
            if role in {referenced_id(template, item) for item in spec["Properties"].get("Roles", [])}:
                statements += as_list(spec["Properties"]["PolicyDocument"]["Statement"])
    return statements


def watched_metrics(alarm: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, {dimension name: value}) for an alarm on one metric or on metric math."""
    if "MetricName" in alarm:
        metrics = [alarm]
    else:
        metrics = [query["MetricStat"]["Metric"] for query in alarm.get("Metrics", []) if "MetricStat" in query]
    for metric in metrics:
        dimensions = {dimension["Name"]: dimension["Value"] for dimension in metric.get("Dimensions", [])}
        yield metric.get("Namespace", ""), metric["MetricName"], dimensions


def alarms_to_the_alarm_topic(template: Template, namespace: str, metric_name: str) -> dict[str, Any]:
    """Alarm logical id -> the dimensions it watches, for alarms on `metric_name` that notify the AlarmTopic."""
    found = {}
    for alarm, spec in template.of_type("AWS::CloudWatch::Alarm").items():
        properties = spec["Properties"]
        if ALARM_TOPIC not in properties.get("AlarmActions", []):
            continue
        for watched_namespace, watched_metric, dimensions in watched_metrics(properties):
            if (watched_namespace, watched_metric) == (namespace, metric_name):
                found[alarm] = dimensions
    return found


def dimension_targets(alarms: dict[str, Any], dimension: str, attribute: str) -> set[str]:
    """The resources the alarms' `dimension` names through !GetAtt <resource>.<attribute> (or !Ref for "Ref")."""
    targets = set()
    for dimensions in alarms.values():
        value = dimensions.get(dimension)
        if attribute == "Ref" and isinstance(value, dict) and list(value) == ["Ref"]:
            targets.add(str(value["Ref"]))
        elif (named := get_att(value)) and named[1] == attribute:
            targets.add(named[0])
    return targets


def report(problems: list[str]) -> str:
    return "\n".join(problems)


# ------------------------------------------------------------------------------------ 1. queues and their DLQs


def test_every_queue_that_is_not_a_dead_letter_queue_redrives_to_one_of_its_kind(template: Template) -> None:
    dead_letter = dead_letter_queues(template)
    problems = []
    for queue, spec in template.of_type("AWS::SQS::Queue").items():
        if queue in dead_letter:
            continue
        policy = redrive_policy(spec.get("Properties", {}))
        if policy is None:
            problems.append(f"{queue}: no RedrivePolicy, so a message that keeps failing is retried until it expires")
            continue
        target = referenced_of_type(template, policy.get("deadLetterTargetArn"), "AWS::SQS::Queue")
        if target is None:
            problems.append(f"{queue}: RedrivePolicy.deadLetterTargetArn is not a queue of this template")
        elif is_fifo(template, queue) != is_fifo(template, target):
            problems.append(f"{queue}: FIFO is {is_fifo(template, queue)} but its DLQ {target}'s is the opposite")
        if not isinstance(policy.get("maxReceiveCount"), int) or policy["maxReceiveCount"] < 1:
            problems.append(f"{queue}: RedrivePolicy.maxReceiveCount is not set to a positive count")
    assert not problems, report(problems)


def test_every_queue_keeps_messages_for_fourteen_days(template: Template) -> None:
    """A failure waits for a person, and a backlog outlasts a consumer's outage (the template says why per queue).

    test_template.py checks that every queue, these included, is encrypted.
    """
    dead_letter = dead_letter_queues(template)
    assert dead_letter, "the stream consumers send failed batches to dead-letter queues"
    assert queue_consumers(template), "payment events, notifications and analytics are main queues"
    problems = [
        f"{queue} ({'DLQ of ' + dead_letter[queue] if queue in dead_letter else 'a main queue'}): "
        f"MessageRetentionPeriod should be {FOURTEEN_DAYS}"
        for queue in sorted(template.of_type("AWS::SQS::Queue"))
        if template.properties(queue).get("MessageRetentionPeriod") is None
        or number(template, template.properties(queue)["MessageRetentionPeriod"]) != FOURTEEN_DAYS
    ]
    assert not problems, report(problems)


def test_every_fifo_queue_states_its_deduplication_scope_and_throughput_limit(template: Template) -> None:
    """The payment-events queue is high-throughput FIFO: deduplication and the limit per message group.

    Only that pair turns high throughput on (any other leaves the queue at 300 sends a second); the template says
    why it chose it. A DLQ only receives moved messages, so its own defaults do not matter.
    """
    dead_letter = dead_letter_queues(template)
    main_fifo = [queue for queue in template.of_type("AWS::SQS::Queue") if is_fifo(template, queue)]
    main_fifo = [queue for queue in main_fifo if queue not in dead_letter]
    assert main_fifo, "payment webhooks are queued in order per order on a FIFO queue"
    problems = [
        f"{queue}: DeduplicationScope and FifoThroughputLimit should be messageGroup and perMessageGroupId"
        for queue in sorted(main_fifo)
        if (
            template.properties(queue).get("DeduplicationScope"),
            template.properties(queue).get("FifoThroughputLimit"),
        )
        != ("messageGroup", "perMessageGroupId")
    ]
    assert not problems, report(problems)


def test_every_consumed_queue_hides_a_message_for_six_times_its_consumers_timeout(template: Template) -> None:
    """AWS's rule of thumb, so that a message is not redelivered while a slow or throttled batch still runs.

    Plus the mapping's batching window, during which Lambda already holds the messages it gathers.
    """
    consumers = queue_consumers(template)
    assert consumers, "payment events, notifications and analytics are consumed from SQS queues"
    problems = []
    for queue, mappings in sorted(consumers.items()):
        visibility = number(
            template, template.properties(queue).get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY_TIMEOUT)
        )
        for properties in mappings.values():
            function = referenced_of_type(template, properties["FunctionName"], "AWS::Lambda::Function")
            assert function, f"{queue}'s consumer is not a function of this template"
            timeout = number(template, template.properties(function).get("Timeout", LAMBDA_DEFAULT_TIMEOUT))
            window = number(template, properties.get("MaximumBatchingWindowInSeconds", 0))
            if visibility < 6 * timeout + window:
                problems.append(
                    f"{queue}: VisibilityTimeout {visibility} < 6 x {function}'s Timeout {timeout}"
                    f" + its batching window {window}"
                )
    assert not problems, report(problems)


def test_no_fifo_queue_consumer_has_a_batching_window(template: Template) -> None:
    """Lambda rejects MaximumBatchingWindowInSeconds on an SQS FIFO source; moto and the linters do not."""
    problems = [
        f"{mapping} (reads FIFO {queue}): MaximumBatchingWindowInSeconds is not allowed"
        for queue, mappings in sorted(queue_consumers(template).items())
        if is_fifo(template, queue)
        for mapping, properties in sorted(mappings.items())
        if "MaximumBatchingWindowInSeconds" in properties
    ]
    assert not problems, report(problems)


def test_every_queue_consumer_caps_its_concurrency(template: Template) -> None:
    """Each queue's consumer feeds something a burst would overrun (the payment ledger and the executions it
    resumes, the notifier, one counter item per day), so each caps its batches in flight; the template says why
    beside each cap. Lambda's floor for the cap is 2."""
    consumers = queue_consumers(template)
    assert consumers, "payment events, notifications and analytics are consumed from SQS queues"
    problems = []
    for queue, mappings in sorted(consumers.items()):
        for mapping, properties in sorted(mappings.items()):
            cap = properties.get("ScalingConfig", {}).get("MaximumConcurrency")
            if cap is None:
                problems.append(f"{mapping} (reads {queue}): no ScalingConfig.MaximumConcurrency")
            elif not 2 <= number(template, cap) <= 10:
                problems.append(f"{mapping} (reads {queue}): MaximumConcurrency {cap} is not between 2 and 10")
    assert not problems, report(problems)


# -------------------------------------------------------------------------------- 2. partial batch failures


def test_every_queue_consumer_reports_partial_batch_failures(template: Template) -> None:
    """Stream mappings are checked in test_template.py."""
    problems = [
        f"{mapping} (reads {queue}): FunctionResponseTypes lacks ReportBatchItemFailures"
        for queue, mappings in sorted(queue_consumers(template).items())
        for mapping, properties in sorted(mappings.items())
        if "ReportBatchItemFailures" not in properties.get("FunctionResponseTypes", [])
    ]
    assert not problems, report(problems)


# ---------------------------------------------------------------------------- 3. asynchronous targets' failures


def test_every_eventbridge_rule_target_has_a_retry_policy_and_a_dead_letter_queue(
    template: Template,
) -> None:
    targets = list(rule_targets(template))
    assert targets, "OrderPlaced starts the saga and order outcomes go to the outcomes topic through rules"
    problems = []
    for rule, target in targets:
        name = f"{rule} target {target.get('Id')}"
        if not referenced_of_type(template, target.get("DeadLetterConfig", {}).get("Arn"), "AWS::SQS::Queue"):
            problems.append(f"{name}: DeadLetterConfig.Arn is not a queue of this template")
        if not {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"} & set(target.get("RetryPolicy", {})):
            problems.append(f"{name}: no RetryPolicy (MaximumRetryAttempts / MaximumEventAgeInSeconds)")
    assert not problems, report(problems)


def test_every_schedule_keeps_failed_invocations_in_a_dead_letter_queue_its_role_may_write(
    template: Template,
) -> None:
    """EventBridge Scheduler writes to the DLQ as the schedule's role, not through a queue policy."""
    schedules = template.of_type("AWS::Scheduler::Schedule")
    assert schedules, "the reconciler runs on a schedule"
    problems = []
    for schedule, spec in sorted(schedules.items()):
        target = spec["Properties"]["Target"]
        dead_letter = referenced_of_type(template, target.get("DeadLetterConfig", {}).get("Arn"), "AWS::SQS::Queue")
        role = referenced_of_type(template, target.get("RoleArn"), "AWS::IAM::Role")
        if dead_letter is None:
            problems.append(f"{schedule}: Target.DeadLetterConfig.Arn is not a queue of this template")
        elif role is None:
            problems.append(f"{schedule}: Target.RoleArn is not a role of this template")
        elif not any(
            allows(statement, "sqs:SendMessage")
            and dead_letter
            in {referenced_id(template, resource) for resource in as_list(statement.get("Resource", []))}
            for statement in role_statements(template, role)
        ):
            problems.append(f"{schedule}: its role {role} may not sqs:SendMessage to its DLQ {dead_letter}")
    assert not problems, report(problems)


# ------------------------------------------------------------------------------------------------ 4-6. alarms


def test_every_dead_letter_queue_alarms_on_the_alarm_topic_as_soon_as_a_message_lands(template: Template) -> None:
    """Also covers rule and schedule DLQs, which test_template.py's DLQ alarm check does not know about.

    ApproximateNumberOfMessagesVisible, because a message moved by redrive does not count in NumberOfMessagesSent.
    The dimension must be the queue's QueueName (!GetAtt), not its URL (!Ref).
    """
    alarms = {
        alarm: dimensions
        for alarm, dimensions in alarms_to_the_alarm_topic(
            template, "AWS/SQS", "ApproximateNumberOfMessagesVisible"
        ).items()
        if (template.properties(alarm).get("Threshold"), template.properties(alarm).get("ComparisonOperator"))
        in {(0, "GreaterThanThreshold"), (1, "GreaterThanOrEqualToThreshold")}
    }
    alarmed = dimension_targets(alarms, "QueueName", "QueueName")
    problems = [
        f"{queue} (DLQ of {sender}): no alarm on AWS/SQS ApproximateNumberOfMessagesVisible > 0 with dimension "
        f"QueueName = !GetAtt {queue}.QueueName and AlarmActions [!Ref AlarmTopic]"
        for queue, sender in sorted(dead_letter_queues(template).items())
        if queue not in alarmed
    ]
    assert not problems, report(problems)


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_every_state_machine_alarms_on_the_alarm_topic_when_an_execution_does_not_succeed(
    template: Template, metric: str
) -> None:
    state_machines = template.of_type("AWS::StepFunctions::StateMachine")
    assert state_machines, "the fulfilment saga is a state machine"
    alarms = alarms_to_the_alarm_topic(template, "AWS/States", metric)
    alarmed = dimension_targets(alarms, "StateMachineArn", "Ref") | dimension_targets(alarms, "StateMachineArn", "Arn")
    problems = [
        f"{state_machine}: no alarm on AWS/States {metric} with dimension StateMachineArn = !Ref {state_machine} "
        "and AlarmActions [!Ref AlarmTopic]"
        for state_machine in sorted(state_machines)
        if state_machine not in alarmed
    ]
    assert not problems, report(problems)


def substituted(substitutions: dict[str, Any], value: Any) -> Any:
    """What a `${Name}` of an ASL definition stands for, from its DefinitionSubstitutions."""
    return substitutions[value[2:-1]] if isinstance(value, str) and value.startswith("${") else value


def test_the_fulfilment_times_out_only_past_its_longest_possible_run(template: Template) -> None:
    """Every task at its Lambda timeout on every attempt, every retry wait at its longest, the payment wait in full.

    Shorter, and a slow but healthy execution would time out; absent, and it could wait a year with its
    TIMED_OUT alarm never firing. An upper bound: it adds up every task, as if one run went through them all.
    """
    properties = template.properties("OrderFulfillmentStateMachine")
    substitutions = properties["DefinitionSubstitutions"]
    definition = cfn_yaml.loads((ROOT / properties["DefinitionS3Location"]["Key"]).read_text())
    assert "TimeoutSeconds" in definition, "an execution must not be able to wait a year"
    timeout = number(template, substituted(substitutions, definition["TimeoutSeconds"]))
    longest = 0.0
    for state in definition["States"].values():
        if state["Type"] != "Task":
            continue
        function = referenced_id(template, substituted(substitutions, state["Parameters"]["FunctionName"]))
        assert function, state["Parameters"]["FunctionName"]
        invocation = number(template, template.properties(function).get("Timeout", LAMBDA_DEFAULT_TIMEOUT))
        retriers = state.get("Retry", [])
        attempts = 1 + sum(retrier.get("MaxAttempts", 3) for retrier in retriers)
        waits = sum(
            min(
                retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** attempt,
                retrier.get("MaxDelaySeconds", float("inf")),
            )
            for retrier in retriers
            for attempt in range(retrier.get("MaxAttempts", 3))
        )
        waiting = number(template, substituted(substitutions, state.get("TimeoutSeconds", 0)))
        longest += attempts * invocation + waits + waiting
    assert timeout > longest, f"FulfilmentTimeoutSeconds {timeout} does not outlast the longest run ({longest:.0f} s)"


def test_every_state_machine_logs_its_errors_without_execution_data_to_a_kept_log_group_and_is_traced(
    template: Template,
) -> None:
    """ERROR, not ALL: a log line per failure, not per step. Without execution data: an execution's input and
    output carry customers' orders, and the execution history (GetExecutionHistory) already holds them."""
    problems = []
    for state_machine, spec in sorted(template.of_type("AWS::StepFunctions::StateMachine").items()):
        logging = spec["Properties"].get("LoggingConfiguration", {})
        if logging.get("Level") != "ERROR":
            problems.append(f"{state_machine}: LoggingConfiguration.Level should be ERROR")
        if logging.get("IncludeExecutionData") is not False:
            problems.append(f"{state_machine}: LoggingConfiguration.IncludeExecutionData should be false")
        destinations = logging.get("Destinations", [])
        if not destinations:
            problems.append(f"{state_machine}: LoggingConfiguration has no log group Destinations")
        for destination in destinations:
            arn = destination.get("CloudWatchLogsLogGroup", {}).get("LogGroupArn")
            log_group = referenced_of_type(template, arn, "AWS::Logs::LogGroup")
            if log_group is None:
                problems.append(f"{state_machine}: a log destination is not a log group of this template")
            elif "RetentionInDays" not in template.properties(log_group):
                problems.append(f"{state_machine}: its log group {log_group} keeps logs forever (no RetentionInDays)")
        if spec["Properties"].get("TracingConfiguration", {}).get("Enabled") is not True:
            problems.append(f"{state_machine}: TracingConfiguration.Enabled should be true")
    assert not problems, report(problems)


def test_every_function_alarms_on_the_alarm_topic_when_it_errs(template: Template) -> None:
    alarmed = dimension_targets(alarms_to_the_alarm_topic(template, "AWS/Lambda", "Errors"), "FunctionName", "Ref")
    problems = [
        f"{function}: no alarm on AWS/Lambda Errors with dimension FunctionName = !Ref {function} "
        "and AlarmActions [!Ref AlarmTopic]"
        for function in sorted(template.of_type("AWS::Lambda::Function"))
        if function not in alarmed
    ]
    assert not problems, report(problems)


# ------------------------------------------------------------------------ 7. encryption that works with the writer


def test_every_topic_an_eventbridge_rule_targets_admits_eventbridge_to_its_key_and_policy(
    template: Template,
) -> None:
    """EventBridge cannot publish to a topic under the AWS-managed key alias/aws/sns, nor without a topic policy."""
    topics: dict[str, set[str]] = {}
    for rule, target in rule_targets(template):
        if topic := referenced_of_type(template, target["Arn"], "AWS::SNS::Topic"):
            topics.setdefault(topic, set()).add(rule)
    assert topics, "order outcomes reach the outcomes topic through a rule"
    problems = []
    for topic, rules in sorted(topics.items()):
        key = kms_key_of(template, template.properties(topic).get("KmsMasterKeyId"))
        if key is None:
            problems.append(f"{topic}: KmsMasterKeyId should name an AWS::KMS::Key of this template")
        elif not key_lets(template, key, "events.amazonaws.com", ENCRYPT_FOR_A_READER):
            problems.append(f"{topic}: its key {key} should let events.amazonaws.com kms:GenerateDataKey*, kms:Decrypt")
        policies = resource_policies(template, "AWS::SNS::TopicPolicy", "Topics", topic)
        if len(policies) > 1:
            problems.append(f"{topic}: set by several AWS::SNS::TopicPolicy {policies}; each replaces the other")
        statements = [statement for policy in policies for statement in statements_on(template, policy, topic)]
        if missing := unscoped_writers(template, statements, "events.amazonaws.com", "sns:Publish", rules):
            problems.append(
                f"{topic}: no AWS::SNS::TopicPolicy lets events.amazonaws.com sns:Publish to it "
                f"with an aws:SourceArn condition naming {sorted(missing)}"
            )
    assert not problems, report(problems)


def test_every_queue_eventbridge_or_sns_writes_uses_encryption_the_writer_may_use(template: Template) -> None:
    """SQS-managed encryption, or a key of the template whose policy admits the writing service."""
    writers = queue_writers(template)
    assert any("sns.amazonaws.com" in services for services in writers.values()), (
        "notifications and analytics queues subscribe to the outcomes topic"
    )
    problems = []
    for queue, services in sorted(writers.items()):
        properties = template.properties(queue)
        if properties.get("SqsManagedSseEnabled") is True:
            continue
        key = kms_key_of(template, properties.get("KmsMasterKeyId"))
        for service in sorted(services):
            if key is None or not key_lets(template, key, service, ENCRYPT_FOR_A_READER):
                problems.append(
                    f"{queue}: written by {service} ({sorted(services[service])}) but neither SqsManagedSseEnabled "
                    f"nor a key of this template letting {service} kms:GenerateDataKey*, kms:Decrypt"
                )
    assert not problems, report(problems)


def test_every_queue_eventbridge_or_sns_writes_has_a_policy_letting_exactly_those_writers_send(
    template: Template,
) -> None:
    """Rule targets and their DLQs, SNS subscribers and their DLQs; the condition is the confused-deputy guard."""
    problems = []
    for queue, services in sorted(queue_writers(template).items()):
        policies = resource_policies(template, "AWS::SQS::QueuePolicy", "Queues", queue)
        if len(policies) > 1:
            problems.append(f"{queue}: set by several AWS::SQS::QueuePolicy {policies}; each replaces the other")
        statements = [statement for policy in policies for statement in statements_on(template, policy, queue)]
        for service, writers in sorted(services.items()):
            if missing := unscoped_writers(template, statements, service, "sqs:SendMessage", writers):
                problems.append(
                    f"{queue}: no AWS::SQS::QueuePolicy lets {service} sqs:SendMessage to it "
                    f"with an aws:SourceArn condition naming {sorted(missing)}"
                )
    assert not problems, report(problems)


# ------------------------------------------------------------------------------------------------------ 8. tables


def test_every_table_is_one_whose_encryption_and_recovery_test_template_checks(template: Template) -> None:
    """test_template.py checks SSE, point-in-time recovery and protection per named table; a new table joins it."""
    test = test_template.test_every_table_is_encrypted_recoverable_on_demand_and_protected_in_prod
    [parametrize] = [mark for mark in getattr(test, "pytestmark", []) if mark.name == "parametrize"]
    checked = set(parametrize.args[1])
    unchecked = sorted(set(template.of_type("AWS::DynamoDB::Table")) - checked)
    assert not unchecked, f"add {unchecked} to test_template.py's table parametrization"
