"""The return desk: answers a customer's ReturnRequested with an RMA and a prepaid label
from the carrier that delivered the parcel, or with the reason it cannot come back."""

from __future__ import annotations

from datetime import timedelta

from orderflow_events import ReturnRequested
from orderflow_runtime.logs import get_logger

from orderflow_fulfillment.dispatch import Dispatcher
from orderflow_fulfillment.domain import Shipment

log = get_logger(__name__)


class ReturnDesk:
    def __init__(self, dispatcher: Dispatcher, window: timedelta) -> None:
        self._dispatcher = dispatcher
        self._window = window

    def decide(self, shipment: Shipment, requested: ReturnRequested) -> None:
        """Authorise or reject the return, once (a return decided before is left alone)."""
        if requested.return_id in shipment.returns:
            return  # a redelivery
        lines = [line.model_dump(mode="python") for line in requested.lines]
        refused = shipment.return_refusal(lines, requested.requested_at, self._window)
        if refused is not None:
            log.info("return rejected", return_id=str(requested.return_id), reason=refused)
            shipment.reject_return(return_id=requested.return_id, reason=refused)
            return
        label = self._dispatcher.return_label(shipment.carrier, requested.return_id)
        shipment.authorize_return(return_id=requested.return_id, lines=lines, label=label.as_dict())
        log.info("return authorised", return_id=str(requested.return_id), carrier=label.carrier)
