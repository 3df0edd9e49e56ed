"""What each bank's return files mean: the movement codes (which are payments, and what the
others say) and where the fields of a CNAB 400 detail record sit. Data only; the reader is
`bank_files.py`.

Sources: the banks' published layouts (FEBRABAN CNAB 240 v10 table C044; Banco do Brasil
CBR643 for convênios of 6 and 7 digits; Bradesco "Cobrança – troca de arquivos CNAB 400"
4008.524.0121; Itaú "Cobrança CNAB 400"; Santander "Cobrança CNAB 400"; Caixa SIGCB "Leiaute
CNAB 400"; Sicredi "Cobrança CNAB 400"; Sicoob "Leiaute CNAB 400"; Banrisul "Cobrança CNAB 400";
Banco Inter "Cobrança CNAB 400"; Cresol "Cobrança CNAB 400"). Positions are 1-based and
inclusive, as the layouts print them. The descriptions are the layouts' own words (pt-BR):
they are shown to agents as the bank wrote them."""

from dataclasses import dataclass, field

# FEBRABAN CNAB 240, table C044 (movement codes of the return segment T), which most banks use
# unchanged in CNAB 240.
FEBRABAN_240 = {
    "01": "Solicitação de impressão de títulos confirmada",
    "02": "Entrada confirmada",
    "03": "Entrada rejeitada",
    "04": "Transferência de carteira/entrada",
    "05": "Transferência de carteira/baixa",
    "06": "Liquidação",
    "07": "Confirmação do recebimento da instrução de desconto",
    "08": "Confirmação do recebimento do cancelamento do desconto",
    "09": "Baixa",
    "11": "Títulos em carteira (em ser)",
    "12": "Confirmação de recebimento de instrução de abatimento",
    "13": "Confirmação de recebimento de instrução de cancelamento de abatimento",
    "14": "Confirmação de recebimento de instrução de alteração de vencimento",
    "15": "Franco de pagamento",
    "17": "Liquidação após baixa ou liquidação de título não registrado",
    "19": "Confirmação de recebimento de instrução de protesto",
    "20": "Confirmação de recebimento de instrução de sustação/cancelamento de protesto",
    "23": "Remessa a cartório (aponte em cartório)",
    "24": "Retirada de cartório e manutenção em carteira",
    "25": "Protestado e baixado (baixa por ter sido protestado)",
    "26": "Instrução rejeitada",
    "27": "Confirmação do pedido de alteração de outros dados",
    "28": "Débito de tarifas/custas",
    "29": "Ocorrências do pagador",
    "30": "Alteração de dados rejeitada",
    "33": "Confirmação da alteração dos dados do rateio de crédito",
    "34": "Confirmação do cancelamento dos dados do rateio de crédito",
    "35": "Confirmação do desagendamento do débito automático",
    "36": "Confirmação de envio de e-mail/SMS",
    "37": "Envio de e-mail/SMS rejeitado",
    "38": "Confirmação de alteração do prazo limite de recebimento",
    "39": "Confirmação de dispensa de prazo limite de recebimento",
    "40": "Confirmação da alteração do número do título dado pelo beneficiário",
    "41": "Confirmação da alteração do número de controle do participante",
    "42": "Confirmação da alteração dos dados do pagador",
    "43": "Confirmação da alteração dos dados do sacador/avalista",
    "44": "Título pago com cheque devolvido",
    "45": "Título pago com cheque compensado",
    "46": "Instrução para cancelar protesto confirmada",
    "47": "Instrução para protesto para fins falimentares confirmada",
    "48": "Confirmação de instrução de transferência de carteira/modalidade de cobrança",
    "49": "Alteração de contrato de cobrança",
    "50": "Título pago com cheque pendente de liquidação",
    "51": "Título DDA reconhecido pelo pagador",
    "52": "Título DDA não reconhecido pelo pagador",
    "53": "Título DDA recusado pela CIP",
    "54": "Confirmação da instrução de baixa de título negativado sem protesto",
}
FEBRABAN_240_PAYMENTS = frozenset({"06", "17"})

BB_400 = {
    "02": "Confirmação de entrada de título",
    "03": "Comando recusado",
    "05": "Liquidado sem registro",
    "06": "Liquidação normal",
    "07": "Liquidação por conta (parcial)",
    "08": "Liquidação por saldo",
    "09": "Baixa de título",
    "10": "Baixa solicitada",
    "11": "Títulos em ser",
    "12": "Abatimento concedido",
    "13": "Abatimento cancelado",
    "14": "Alteração de vencimento",
    "15": "Liquidação em cartório",
    "16": "Confirmação de alteração de juros de mora",
    "19": "Confirmação de recebimento de instrução de protesto",
    "20": "Débito em conta",
    "21": "Alteração do nome do pagador",
    "22": "Alteração do endereço do pagador",
    "23": "Indicação de encaminhamento a cartório",
    "24": "Sustar protesto",
    "25": "Dispensar juros de mora",
    "26": "Alteração do número do título dado pelo beneficiário",
    "28": "Manutenção de título vencido",
    "31": "Conceder desconto",
    "32": "Não conceder desconto",
    "33": "Retificar desconto",
    "34": "Alterar data para desconto",
    "35": "Cobrar multa",
    "36": "Dispensar multa",
    "37": "Dispensar indexador",
    "38": "Dispensar prazo limite para recebimento",
    "39": "Alterar prazo limite para recebimento",
    "41": "Alteração do número do controle do participante",
    "42": "Alteração do número do documento do pagador",
    "44": "Título pago com cheque devolvido",
    "46": "Título pago com cheque, aguardando compensação",
    "72": "Alteração de tipo de cobrança",
    "73": "Confirmação de instrução de parâmetro de pagamento parcial",
    "96": "Despesas de protesto",
    "97": "Despesas de sustação de protesto",
    "98": "Débito de custas antecipadas",
}

BRADESCO_400 = {
    "02": "Entrada confirmada",
    "03": "Entrada rejeitada",
    "06": "Liquidação normal",
    "09": "Baixado automaticamente via arquivo",
    "10": "Baixado conforme instruções da agência",
    "11": "Em ser (arquivo de títulos pendentes)",
    "12": "Abatimento concedido",
    "13": "Abatimento cancelado",
    "14": "Vencimento alterado",
    "15": "Liquidação em cartório",
    "16": "Título pago em cheque – vinculado",
    "17": "Liquidação após baixa ou título não registrado",
    "18": "Acerto de depositária",
    "19": "Confirmação de recebimento de instrução de protesto",
    "20": "Confirmação de recebimento de instrução de sustação de protesto",
    "21": "Acerto do controle do participante",
    "22": "Título com pagamento cancelado",
    "23": "Entrada do título em cartório",
    "24": "Entrada rejeitada por CEP irregular",
    "25": "Confirmação de recebimento de instrução de protesto falimentar",
    "27": "Baixa rejeitada",
    "28": "Débito de tarifas/custas",
    "29": "Ocorrências do pagador",
    "30": "Alteração de outros dados rejeitada",
    "32": "Instrução rejeitada",
    "33": "Confirmação de pedido de alteração de outros dados",
    "34": "Retirado de cartório e manutenção em carteira",
    "35": "Desagendamento do débito automático",
    "40": "Estorno de pagamento",
    "55": "Sustado judicial",
    "68": "Acerto dos dados do rateio de crédito",
    "69": "Cancelamento dos dados do rateio",
    "73": "Confirmação de recebimento de pedido de negativação",
    "74": "Confirmação de pedido de exclusão de negativação",
}

ITAU = {
    "02": "Entrada confirmada",
    "03": "Entrada rejeitada",
    "04": "Alteração de dados – nova entrada",
    "05": "Alteração de dados – baixa",
    "06": "Liquidação normal",
    "07": "Liquidação parcial – cobrança inteligente (B2B)",
    "08": "Liquidação em cartório",
    "09": "Baixa simples",
    "10": "Baixa por ter sido liquidado",
    "11": "Em ser",
    "12": "Abatimento concedido",
    "13": "Abatimento cancelado",
    "14": "Vencimento alterado",
    "15": "Baixas rejeitadas",
    "16": "Instruções rejeitadas",
    "17": "Alteração de dados rejeitados",
    "18": "Cobrança contratual – instruções/alterações rejeitadas/pendentes",
    "19": "Confirma recebimento de instrução de protesto",
    "20": "Confirma recebimento de instrução de sustação de protesto/tarifa",
    "21": "Confirma recebimento de instrução de não protestar",
    "23": "Título enviado a cartório/tarifa",
    "24": "Instrução de protesto rejeitada/sustada/pendente",
    "25": "Alegações do pagador",
    "26": "Tarifa de aviso de cobrança",
    "27": "Tarifa de extrato posição",
    "28": "Tarifa de relação das liquidações",
    "29": "Tarifa de manutenção de títulos vencidos",
    "30": "Débito mensal de tarifas (para entradas e baixas)",
    "32": "Baixa por ter sido protestado",
    "33": "Custas de protesto",
    "34": "Custas de sustação",
    "35": "Custas de cartório distribuidor",
    "36": "Custas de edital",
    "37": "Tarifa de emissão de boleto/tarifa de envio de duplicata",
    "38": "Tarifa de instrução",
    "39": "Tarifa de ocorrências",
    "40": "Tarifa mensal de emissão de boleto/tarifa mensal de envio de duplicata",
    "41": "Débito mensal de tarifas – extrato de posição",
    "42": "Débito mensal de tarifas – outras instruções",
    "43": "Débito mensal de tarifas – manutenção de títulos vencidos",
    "44": "Débito mensal de tarifas – outras ocorrências",
    "45": "Débito mensal de tarifas – protesto",
    "46": "Débito mensal de tarifas – sustação de protesto",
    "47": "Baixa com transferência para desconto",
    "48": "Custas de sustação judicial",
    "51": "Tarifa mensal referente a entradas de bancos correspondentes na carteira",
    "52": "Tarifa mensal baixas na carteira",
    "53": "Tarifa mensal baixas em bancos correspondentes na carteira",
    "54": "Tarifa mensal de liquidações na carteira",
    "55": "Tarifa mensal de liquidações em bancos correspondentes na carteira",
    "56": "Custas de irregularidade",
    "57": "Instrução cancelada",
    "59": "Baixa por crédito em c/c através do SISPAG",
    "60": "Entrada rejeitada carnê",
    "61": "Tarifa emissão aviso de movimentação de títulos",
    "62": "Débito mensal de tarifa – aviso de movimentação de títulos",
    "63": "Título sustado judicialmente",
    "64": "Entrada confirmada com rateio de crédito",
    "65": "Pagamento com cheque – aguardando compensação",
    "69": "Cheque devolvido",
    "71": "Entrada registrada, aguardando avaliação",
    "72": "Baixa por crédito em c/c através do SISPAG sem título correspondente",
    "73": "Confirmação de entrada na cobrança simples – entrada não aceita na cobrança contratual",
    "74": "Instrução de negativação expressa rejeitada",
    "75": "Confirmação de recebimento de instrução de entrada em negativação expressa",
    "76": "Cheque compensado",
    "77": "Confirmação de recebimento de instrução de exclusão de entrada em negativação expressa",
    "78": "Confirmação de recebimento de instrução de cancelamento de negativação expressa",
    "79": "Negativação expressa informacional",
    "80": "Confirmação de entrada em negativação expressa – tarifa",
    "82": "Confirmação do cancelamento de negativação expressa – tarifa",
    "83": "Confirmação de exclusão de entrada em negativação expressa por liquidação – tarifa",
    "85": "Tarifa por boleto (até 03 envios) cobrança ativa eletrônica",
    "86": "Tarifa e-mail cobrança ativa eletrônica",
    "87": "Tarifa SMS cobrança ativa eletrônica",
    "88": "Tarifa mensal por boleto (até 03 envios) cobrança ativa eletrônica",
    "89": "Tarifa mensal e-mail cobrança ativa eletrônica",
    "90": "Tarifa mensal SMS cobrança ativa eletrônica",
    "91": "Tarifa mensal de exclusão de entrada de negativação expressa",
    "92": "Tarifa mensal de cancelamento de negativação expressa",
    "93": "Tarifa mensal de exclusão de negativação expressa por liquidação",
}
ITAU_PAYMENTS = frozenset({"06", "07", "08", "10"})

SANTANDER_400 = {
    "01": "Título não existe",
    "02": "Entrada de título confirmada",
    "03": "Entrada de título rejeitada",
    "06": "Liquidação",
    "07": "Liquidação por conta",
    "08": "Liquidação por saldo",
    "09": "Baixa automática",
    "10": "Título baixado conforme instrução ou por título protestado",
    "11": "Em ser",
    "12": "Abatimento concedido",
    "13": "Abatimento cancelado",
    "14": "Prorrogação de vencimento",
    "15": "Enviado para cartório",
    "16": "Título já baixado/liquidado",
    "17": "Liquidado em cartório",
    "21": "Entrada em cartório",
    "22": "Retirado de cartório",
    "24": "Custas de cartório",
    "25": "Protestar título",
    "26": "Sustar protesto",
}

CAIXA_400 = {
    "01": "Entrada confirmada",
    "02": "Baixa confirmada",
    "03": "Abatimento concedido",
    "04": "Abatimento cancelado",
    "05": "Vencimento alterado",
    "06": "Uso da empresa alterado",
    "07": "Prazo de protesto alterado",
    "08": "Prazo de devolução alterado",
    "09": "Alteração confirmada",
    "10": "Alteração com reemissão de boleto confirmada",
    "11": "Alteração da opção de protesto para devolução",
    "12": "Alteração da opção de devolução para protesto",
    "20": "Em ser",
    "21": "Liquidação",
    "22": "Liquidação em cartório",
    "23": "Baixa por devolução",
    "24": "Baixa por franco pagamento",
    "25": "Baixa por protesto",
    "26": "Título enviado para cartório",
    "27": "Sustação de protesto",
    "28": "Estorno de protesto",
    "29": "Estorno de sustação de protesto",
    "30": "Alteração de título",
    "31": "Tarifa sobre título vencido",
    "32": "Outras tarifas de alteração",
    "33": "Estorno de baixa/liquidação",
    "34": "Transferência de carteira/entrada",
    "35": "Transferência de carteira/baixa",
    "99": "Rejeição do título",
}

SICREDI_400 = {
    "02": "Entrada confirmada",
    "03": "Entrada rejeitada",
    "06": "Liquidação normal",
    "09": "Baixado automaticamente via arquivo",
    "10": "Baixado conforme instruções da cooperativa de crédito",
    "12": "Abatimento concedido",
    "13": "Abatimento cancelado",
    "14": "Vencimento alterado",
    "15": "Liquidação em cartório",
    "17": "Liquidação após baixa",
    "19": "Confirmação de recebimento de instrução de protesto",
    "20": "Confirmação de recebimento de instrução de sustação de protesto",
    "23": "Entrada de título em cartório",
    "24": "Entrada rejeitada por CEP irregular",
    "27": "Baixa rejeitada",
    "28": "Tarifa",
    "29": "Rejeição do pagador",
    "30": "Alteração rejeitada",
    "32": "Instrução rejeitada",
    "33": "Confirmação de pedido de alteração de outros dados",
    "34": "Retirado de cartório e manutenção em carteira",
    "35": "Aceite do pagador",
}

SICOOB_400 = {
    "02": "Confirmação de entrada de título",
    "05": "Liquidação sem registro",
    "06": "Liquidação normal",
    "09": "Baixa de título",
    "10": "Baixa solicitada (pedido do beneficiário)",
    "11": "Títulos em ser",
    "14": "Alteração de vencimento",
    "15": "Liquidação em cartório",
    "23": "Encaminhado a protesto",
    "27": "Confirmação de alteração de dados",
    "48": "Confirmação de instrução de transferência de carteira/modalidade de cobrança",
}

BANRISUL_400 = {
    "02": "Confirmação de entrada",
    "03": "Entrada rejeitada",
    "04": "Baixa de título liquidado por edital",
    "06": "Liquidação normal",
    "07": "Liquidação parcial",
    "08": "Baixa por pagamento, liquidação pelo saldo",
    "09": "Devolução automática",
    "10": "Baixado conforme instruções",
    "11": "Arquivo levantamento",
    "12": "Concessão de abatimento",
    "13": "Cancelamento de abatimento",
    "14": "Vencimento alterado",
    "15": "Pagamento em cartório",
    "16": "Alteração de dados",
    "18": "Alteração de instruções",
    "19": "Confirmação de instrução de protesto",
    "20": "Confirmação de instrução para sustar protesto",
    "21": "Aguardando autorização para protesto por edital",
    "22": "Protesto sustado por alteração de vencimento e prazo de cartório",
    "23": "Confirmação da entrada em cartório",
    "25": "Devolução, liquidado anteriormente",
    "26": "Devolvido pelo cartório – erro de informação",
    "30": "Cobrança a creditar (liquidação em trânsito)",
    "31": "Título em trânsito pago em cartório",
    "32": "Reembolso e transferência desconto e vendor ou carteira em garantia",
    "33": "Reembolso e devolução desconto e vendor",
    "34": "Reembolso não efetuado por falta de saldo",
    "40": "Baixa de títulos protestados",
    "41": "Despesa de aponte",
    "42": "Alteração de título",
    "43": "Relação de títulos",
    "44": "Manutenção mensal",
    "45": "Sustação de cartório e envio de título a cartório",
    "46": "Fornecimento de formulário pré-impresso",
    "47": "Confirmação de entrada – pagador DDA",
    "68": "Acerto dos dados do rateio de crédito",
    "69": "Cancelamento dos dados do rateio",
}

INTER_400 = {
    "02": "Em aberto",
    "03": "Erro (entrada rejeitada)",
    "06": "Pago",
    "07": "Baixado",
}


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
