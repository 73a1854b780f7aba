from __future__ import annotations

import pytest

from tests.factories import make_line, new_number, snapshot
from topup.bootstrap import Application
from topup.domain.errors import DomainError
from topup.domain.lines import LineType
from topup.services import lines, numbers


def test_lookup_normalises_and_finds_the_operator(application: Application) -> None:
    info = numbers.look_up(application.uow(), "055 222 33 44")
    assert (info.msisdn.e164, info.national, info.operator, info.original_operator, info.ported) == (
        "+994552223344",
        "055 222 33 44",
        "bakcell",
        "bakcell",
        False,
    )


def test_a_port_overrides_the_prefix_and_moves_a_provisioned_line(application: Application) -> None:
    line = make_line(application, prefix="50")

    numbers.add_port(application.uow(), application.clock, number=line.msisdn.e164, operator="nar")

    info = numbers.look_up(application.uow(), line.msisdn.e164)
    assert (info.operator, info.original_operator, info.ported) == ("nar", "azercell", True)
    assert lines.get_line(application.uow(), number=line.msisdn.e164).operator == "nar"

    numbers.remove_port(application.uow(), application.clock, number=line.msisdn.e164)

    info = numbers.look_up(application.uow(), line.msisdn.e164)
    assert (info.operator, info.ported) == ("azercell", False)
    assert lines.get_line(application.uow(), number=line.msisdn.e164).operator == "azercell"


def test_a_port_of_a_prefix_we_do_not_serve_makes_the_number_ours(application: Application) -> None:
    with pytest.raises(DomainError) as refused:
        numbers.look_up(application.uow(), "040 123 45 67")
    assert refused.value.code == "operator_not_supported"

    numbers.add_port(application.uow(), application.clock, number="040 123 45 67", operator="bakcell")

    assert numbers.look_up(application.uow(), "040 123 45 67").operator == "bakcell"


@pytest.mark.parametrize(("operator", "code"), [("naxtel", "operator_closed"), ("mts", "operator_unknown")])
def test_ports_to_closed_or_unknown_operators_are_refused(application: Application, operator: str, code: str) -> None:
    before = snapshot(application)
    with pytest.raises(DomainError) as refused:
        numbers.add_port(application.uow(), application.clock, number=new_number(), operator=operator)
    assert refused.value.code == code
    assert snapshot(application) == before


def test_removing_a_port_that_does_not_exist_is_refused(application: Application) -> None:
    with pytest.raises(DomainError) as refused:
        numbers.remove_port(application.uow(), application.clock, number=new_number())
    assert refused.value.code == "port_not_found"


def test_provisioning_records_everything_about_the_line(application: Application) -> None:
    iccid = "8999401000000000000"
    line = lines.provision_line(
        application.uow(),
        application.clock,
        number="077 444 55 66",
        line_type=LineType.PREPAID,
        iccid=iccid,
        language="zh",
    )
    stored = lines.get_line(application.uow(), number="+994774445566")
    assert stored == line
    assert (stored.operator, stored.iccid, stored.language, stored.valid_until) == ("nar", iccid, "zh", None)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"language": "fr"}, "invalid_input"),
        ({"iccid": "1234"}, "invalid_iccid"),
        ({"number": "+994124040000"}, "number_not_mobile"),
    ],
)
def test_bad_provisioning_requests_change_nothing(application: Application, kwargs: dict[str, str], code: str) -> None:
    before = snapshot(application)
    arguments = {"number": new_number(), **kwargs}
    with pytest.raises(DomainError) as refused:
        lines.provision_line(application.uow(), application.clock, **arguments)  # type: ignore[arg-type]
    assert refused.value.code == code
    assert snapshot(application) == before


def test_a_line_and_an_iccid_are_provisioned_once(application: Application) -> None:
    iccid = "8999401000000000000"
    line = lines.provision_line(application.uow(), application.clock, number=new_number(), iccid=iccid)
    before = snapshot(application)
    with pytest.raises(DomainError) as again:
        lines.provision_line(application.uow(), application.clock, number=line.msisdn.e164)
    with pytest.raises(DomainError) as same_iccid:
        lines.provision_line(application.uow(), application.clock, number=new_number(), iccid=iccid)
    assert (again.value.code, same_iccid.value.code) == ("line_exists", "iccid_in_use")
    assert snapshot(application) == before
