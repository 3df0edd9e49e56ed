"""Where each bank's CNAB 400 detail record keeps its fields, and which codes are payments."""

from dataclasses import dataclass

from collections_app.payments.bank_files.layouts.movement_codes import (
    BANRISUL_400,
    BB_400,
    BRADESCO_400,
    CAIXA_400,
    FEBRABAN_240,
    FEBRABAN_240_PAYMENTS,
    INTER_400,
    ITAU,
    ITAU_PAYMENTS,
    SANTANDER_400,
    SICOOB_400,
    SICREDI_400,
)


@dataclass(frozen=True)
class Layout400:
    """Where a bank's CNAB 400 detail record keeps each field, and what its codes mean."""

    name: str
    codes: dict[str, str]
    payments: frozenset[str]
    # Detail record type → nosso número positions (Banco do Brasil has two record types).
    nosso_numero: dict[str, tuple[int, int]]
    code: tuple[int, int] = (109, 110)
    # Data da ocorrência, DDMMAA: for a liquidação, the day the debtor paid (Banco do Brasil
    # calls it the data de liquidação; Inter keeps it at 92-97).
    occurred: tuple[int, int] = (111, 116)
    amount: tuple[int, int] = (254, 266)  # valor pago
    # Data do crédito: the day the money reaches the account, usually a business day or two
    # after the payment. DDMMAA, or AAAAMMDD when 8 wide (Sicredi's data prevista de crédito).
    credited: tuple[int, int] = (296, 301)
    # The header's positions that name the account: 27-46 is where every bank listed keeps
    # its agency, account or código do beneficiário; Banco do Brasil's convênio of 7 digits
    # is at 150-156.
    account: tuple[tuple[int, int], ...] = ((27, 46),)


LAYOUTS_400 = {
    "001": Layout400(
        name="Banco do Brasil",
        codes=BB_400,
        payments=frozenset({"05", "06", "07", "08", "15"}),
        # Type 7: convênio of 7 digits, nosso número of 17; type 1: convênio of 6, 11 + DV.
        nosso_numero={"7": (64, 80), "1": (63, 73)},
        credited=(176, 181),
        account=((27, 46), (150, 156)),
    ),
    "237": Layout400(
        name="Bradesco",
        codes=BRADESCO_400,
        payments=frozenset({"06", "15", "17"}),
        nosso_numero={"1": (71, 82)},
    ),
    "341": Layout400(
        name="Itaú",
        codes=ITAU,
        payments=ITAU_PAYMENTS,
        nosso_numero={"1": (63, 70)},
    ),
    "033": Layout400(
        name="Santander",
        codes=SANTANDER_400,
        payments=frozenset({"06", "07", "08", "17"}),
        nosso_numero={"1": (63, 70)},
    ),
    "104": Layout400(
        name="Caixa",
        codes=CAIXA_400,
        payments=frozenset({"21", "22"}),
        nosso_numero={"1": (57, 73)},
        credited=(294, 299),
    ),
    "748": Layout400(
        name="Sicredi",
        codes=SICREDI_400,
        payments=frozenset({"06", "15", "17"}),
        nosso_numero={"1": (48, 62)},
        credited=(329, 336),
    ),
    "756": Layout400(
        name="Sicoob",
        codes=SICOOB_400,
        payments=frozenset({"05", "06", "15"}),
        nosso_numero={"1": (63, 73)},
        credited=(176, 181),
    ),
    "041": Layout400(
        name="Banrisul",
        codes=BANRISUL_400,
        payments=frozenset({"06", "07", "08", "15"}),
        nosso_numero={"1": (63, 72)},
    ),
    "077": Layout400(
        name="Inter",
        codes=INTER_400,
        payments=frozenset({"06"}),
        nosso_numero={"1": (71, 81)},
        code=(90, 91),
        occurred=(92, 97),
        amount=(160, 172),
        credited=(173, 178),
    ),
    "133": Layout400(
        name="Cresol",
        codes=FEBRABAN_240,
        payments=FEBRABAN_240_PAYMENTS,
        nosso_numero={"1": (71, 82)},
    ),
}
