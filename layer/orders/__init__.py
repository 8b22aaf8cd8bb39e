"""The order service's domain: events, the order aggregate, the event store and the read model.

Every function ships this package through OrdersLayer; handlers stay thin and call in here.
"""
