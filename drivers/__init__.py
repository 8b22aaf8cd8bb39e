"""What drives the order system from outside, through the APIs a client of AWS has, whatever runs it.

The local cloud (local_cloud/), ministack and AWS alike: the orders API's client and the sandbox payment
provider, customers signing in, the inventory's seed stock, a tap on the event bus, the sample events
with what each should produce, load bursts, a DLQ redrive and an archive replay. The demo, the benchmark,
the tests, the scripts and the local cloud's console use these; nothing here imports local_cloud.
"""
