import sys, gc, time
sys.path.insert(0, "layer")
from scripts.bench_local import *  # noqa
from scripts.bench_local import drive_clients, order_body, top_up_stock, CountingTimeline
from local_cloud.server import running_local_cloud
from drivers.api_client import Customer

def deep(obj, seen):
    stack=[obj]; total=0
    while stack:
        o=stack.pop()
        if id(o) in seen: continue
        seen.add(id(o))
        try: total+=sys.getsizeof(o)
        except Exception: continue
        if isinstance(o, dict): stack.extend(o.keys()); stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)): stack.extend(o)
        elif hasattr(o, "__dict__") and not isinstance(o, type): stack.extend(vars(o).values())
    return total

with quiet_process():
    with running_local_cloud(0, 0, 0, timeline=CountingTimeline(), watch_code=False, sandboxes=True) as local:
        top_up_stock(local, order_body(), 200)
        tokens = [local.token(n) for n in ("alice", "bob")]
        def sizes():
            from moto.stepfunctions.parser.models import stepfunctions_parser_backends
            from moto.dynamodb.models import dynamodb_backends
            from moto.sqs.models import sqs_backends
            out = {}
            seen=set()
            out["timeline"] = deep(local.timeline._entries, seen)
            for acct, regions in dynamodb_backends.items():
                for region, b in regions.items():
                    for name, t in b.tables.items():
                        out["ddb items " + name[-30:]] = deep(t.items, seen)
                        if t.stream_shard: out["ddb stream " + name[-30:]] = deep(t.stream_shard.items, seen)
            for acct, regions in stepfunctions_parser_backends.items():
                for region, b in regions.items():
                    for sm in b.state_machines:
                        out["sfn executions " + sm.name[-20:]] = deep(sm.executions, seen)
            return out
        drive_clients(local.api_url, tokens, local.outputs(), 10, 8)
        a = sizes()
        drive_clients(local.api_url, tokens, local.outputs(), 50, 8)
        b = sizes()
        for k in b: print(f"{(b[k]-a.get(k,0))/50/1024:8.1f} KiB/order  {k}", file=sys.__stderr__)
