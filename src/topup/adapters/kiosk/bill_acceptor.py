"""The bill acceptor, simulated: the kiosk page's note buttons stand in for a real device (a real kiosk puts an
ID003 or ccTalk driver behind the same port). It takes the six notes of the manat in circulation and gives any
other note back, as a real acceptor rejects a note it does not recognise."""

from __future__ import annotations

import threading

from topup.domain.kiosks import BANKNOTES_AZN, BanknoteRejected


class SimulatedBillAcceptor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.taken: list[int] = []  # everything in the box since the process started (for a test's eyes)

    def take(self, note_azn: int) -> int:
        if note_azn not in BANKNOTES_AZN:
            raise BanknoteRejected("The note was not recognised and was given back.", banknote=str(note_azn)[:10])
        with self._lock:
            self.taken.append(note_azn)
        return note_azn
