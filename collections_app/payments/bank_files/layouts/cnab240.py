"""Each bank's CNAB 240 cobrança table and where segment T keeps the nosso número; any other
bank is read by the FEBRABAN standard."""

from dataclasses import dataclass, field

from collections_app.payments.bank_files.layouts.movement_codes import (
    FEBRABAN_240,
    FEBRABAN_240_PAYMENTS,
    ITAU,
    ITAU_PAYMENTS,
)


@dataclass(frozen=True)
class Layout240:
    """A bank's CNAB 240 cobrança codes, and where segment T keeps its nosso número."""

    name: str
    codes: dict[str, str] = field(default_factory=lambda: FEBRABAN_240)
    payments: frozenset[str] = FEBRABAN_240_PAYMENTS
    nosso_numero: tuple[int, int] = (38, 57)


LAYOUTS_240 = {
    "001": Layout240(name="Banco do Brasil"),
    "033": Layout240(name="Santander"),
    "104": Layout240(name="Caixa"),
    "133": Layout240(name="Cresol"),
    "208": Layout240(name="BTG Pactual"),
    "237": Layout240(name="Bradesco"),
    # Itaú keeps its own movement table in CNAB 240; segment T holds carteira (38-40),
    # nosso número (41-48) and its DAC (49).
    "341": Layout240(name="Itaú", codes=ITAU, payments=ITAU_PAYMENTS, nosso_numero=(41, 48)),
    "748": Layout240(name="Sicredi"),
    "756": Layout240(name="Sicoob"),
    # Banrisul, "Cobrança Banrisul – Leiaute CNAB 240 posições padrão Febraban" (Sistema BDL,
    # versão 02.0): segments T and U at FEBRABAN's positions, the nosso número (10 digits)
    # left-aligned in 38-57, 06 and 17 its liquidações. Its table, as laravel-boleto's Banrisul
    # reader transcribes it, also has codes of its own (AA, AB, AC: listed as outside the
    # table here) and gives 04 and 05 to reembolsos, where FEBRABAN's words are transfers.
    "041": Layout240(name="Banrisul"),
    "077": Layout240(name="Inter"),
    "085": Layout240(name="Ailos"),
    "136": Layout240(name="Unicred"),
}
# Any other bank's CNAB 240 return is read by the FEBRABAN standard.
FEBRABAN_LAYOUT_240 = Layout240(name="FEBRABAN")
