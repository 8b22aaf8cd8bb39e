"""orders.lazy_client: the client is made on its first use, once, and then used as itself."""

from __future__ import annotations

from orders.lazy_client import lazy_client


class Client:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def describe(self, name: str) -> str:
        self.calls.append(name)
        return f"described {name}"


def test_the_client_is_made_on_first_use_and_only_once() -> None:
    made: list[Client] = []

    def create() -> Client:
        made.append(Client())
        return made[-1]

    client = lazy_client(create)
    assert made == []

    assert client.describe("a") == "described a"
    assert client.describe("b") == "described b"

    assert len(made) == 1
    assert made[0].calls == ["a", "b"]
    assert client.calls is made[0].calls
