"""Card numbers typed into a postal code, a phone or a cart item's attributes are refused
(found by the security soak, tests/chaos/test_security.py: they were stored and published)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .test_api import assert_problem, checkout_body, new_cart, text_besides

pytestmark = pytest.mark.usefixtures("shop_app")


@pytest.mark.parametrize("field", ["postal_code", "phone"])
def test_a_card_number_in_a_postal_code_or_phone_is_refused(client: TestClient, field: str) -> None:
    cart_id = new_cart(client, ("MUG-001", 1))
    body = checkout_body()
    body["shipping_address"][field] = "4111 1111 1111 1111"

    response = client.post(f"/carts/{cart_id}/checkout", json=body)

    assert_problem(response, 422, "card number")
    assert "4111" not in text_besides(response, cart_id)
    assert not client.get(f"/carts/{cart_id}").json()["checked_out"]


def test_a_card_number_in_an_item_attribute_is_refused(client: TestClient) -> None:
    cart_id = new_cart(client)
    item = {"sku": "MUG-001", "quantity": 1, "attributes": {"gift_note": "4242424242424242"}}

    response = client.post(f"/carts/{cart_id}/items", json=item)

    assert_problem(response, 422, "card number")
    assert "4242" not in text_besides(response, cart_id)
    assert client.get(f"/carts/{cart_id}").json()["lines"] == []


def test_an_ordinary_phone_and_attribute_still_pass(client: TestClient) -> None:
    cart_id = new_cart(client)
    item = {"sku": "MUG-001", "quantity": 1, "attributes": {"gift_note": "Happy 30th!"}}
    assert client.post(f"/carts/{cart_id}/items", json=item).status_code == 200
    body = checkout_body()
    body["shipping_address"]["phone"] = "+49 30 1234567"

    response = client.post(f"/carts/{cart_id}/checkout", json=body)

    assert response.status_code == 201, response.text
