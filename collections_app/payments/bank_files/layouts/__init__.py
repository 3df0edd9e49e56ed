"""What each bank's return files mean: the movement codes (which are payments, and what the
others say) and where the fields of a CNAB 400 detail record sit. Data only; the readers are
in `collections_app.payments.bank_files`.

Sources: the banks' published layouts (FEBRABAN CNAB 240 v10 table C044; Banco do Brasil
CBR643 for convênios of 6 and 7 digits; Bradesco "Cobrança – troca de arquivos CNAB 400"
4008.524.0121; Itaú "Cobrança CNAB 400"; Santander "Cobrança CNAB 400"; Caixa SIGCB "Leiaute
CNAB 400"; Sicredi "Cobrança CNAB 400"; Sicoob "Leiaute CNAB 400"; Banrisul "Cobrança CNAB 400";
Banco Inter "Cobrança CNAB 400"; Cresol "Cobrança CNAB 400"). Positions are 1-based and
inclusive, as the layouts print them. The descriptions are the layouts' own words (pt-BR):
they are shown to agents as the bank wrote them."""

from collections_app.payments.bank_files.layouts.cnab240 import (
    FEBRABAN_LAYOUT_240,
    LAYOUTS_240,
    Layout240,
)
from collections_app.payments.bank_files.layouts.cnab400 import LAYOUTS_400, Layout400

__all__ = ["FEBRABAN_LAYOUT_240", "LAYOUTS_240", "LAYOUTS_400", "Layout240", "Layout400"]
