"""The crawl over every page (issue 16, "Checks that hold for every page"): for each role, every
dashboard page reachable from the menu and the pages' own links (a bounded breadth-first walk,
at most two pages per URL pattern), and the debtor's payment page, in Chromium at 1366x900 and
390x844: no horizontal overflow, no word split across lines in badges, buttons, table cells and
labels, no internal choice code in the visible text, no console error or failed request, and
no serious or critical axe-core violation. Every page's screenshot is kept as an artifact, and
the crawl's findings are written beside them (crawl-findings-<who>.json)."""

import inspect
import io
import json
import re
from collections import deque
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import models
from django.test import Client
from django.utils.translation import trans_real
from django_scopes import scope

import collections_app.models as collections_models
import messaging.models as messaging_models
import tenants.models as tenants_models
from collections_app.imports.jobs import import_job_create
from collections_app.invoices.disputes import invoice_dispute_open
from collections_app.models import Invoice, InvoiceStatus, Ladder, Segment
from collections_app.payments.reconciliation import bank_statement_import
from tenants.models import Role, Tenant
from tenants.selectors import tenant_today
from tests.browser import PROJECT_ROOT, artifacts_dir, screenshot
from tests.conftest import require_service
from tests.messaging.problem_messages import failed_message, stuck_message, unknown_message
from tests.tenants.factories import MembershipFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {
    "desktop": {"viewport": {"width": 1366, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
COMMON = {"locale": "pt-BR", "timezone_id": "America/Sao_Paulo"}
MAX_PAGES = 70  # per role: a bound on the walk, far above the dashboard's page count
PER_PATTERN = 2

# Links the walk does not follow: leaving, files, the debtor's pages (visited apart), other apps.
SKIP = re.compile(
    r"logout|/export|download|\.(csv|xlsx|pdf|ofx|txt|json|zip)(\?|$)|^/p/|^/static/|^/media/"
    r"|^/api/|^/admin/|/delete|/remove|/revoke|/i18n/|[?&]lang=|^/accounts/login"
)

# Choice values that are also Portuguese words, brand names or API identifiers a page may show on
# purpose ("Pagamento manual", "gateway de pagamento", the webhook event names).
NOT_CODES = {"manual", "gateway", "console", "sms", "smtp", "whatsapp", "sendgrid", "api"}


def internal_codes() -> list[str]:
    """Every TextChoices value of the three apps' models that is a code, not a word of pt-BR."""
    codes = set()
    for module in (collections_models, messaging_models, tenants_models):
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, models.TextChoices) and cls is not models.TextChoices:
                for value in cls.values:
                    if "." in value or value in NOT_CODES:
                        continue
                    if "_" in value or re.fullmatch(r"[a-z]+", value):
                        codes.add(value)
    return sorted(codes)


# Common English words of a user interface, which a pt-BR page never shows in its chrome: they
# catch a string never marked for translation (so absent from the catalogs).
ENGLISH_UI_WORDS = [
    "Save",
    "Cancel",
    "Delete",
    "Search",
    "Next",
    "Previous",
    "Submit",
    "Loading",
    "Error",
    "Required",
    "Edit",
    "Close",
    "Back",
    "Filter",
    "Filters",
    "Apply",
    "Reset",
    "Download",
    "Upload",
    "Export",
    "Import",
    "Settings",
    "Actions",
    "Details",
    "Show",
    "Hide",
    "Remove",
    "Add",
    "Update",
    "Create",
    "New",
    "Confirm",
    "Continue",
    "Send",
    "Sent",
    "Failed",
    "Pending",
    "Paid",
    "Overdue",
    "Open",
    "Amount",
    "Due",
    "Customer",
    "Customers",
    "Invoice",
    "Invoices",
    "Payment",
    "Payments",
    "Message",
    "Messages",
    "Template",
    "Templates",
    "Name",
    "Date",
    "Phone",
    "Yes",
    "No",
    "None",
    "Unknown",
    "Sign in",
    "Log in",
    "Log out",
    "Password",
    "Username",
    "Welcome",
    "Dashboard",
    "Overview",
    "Queue",
    "Tasks",
    "Notes",
    "Help",
]
ENGLISH_UI_SENTENCES = [
    "This field is required.",
    "Enter a valid",
    "Invalid value",
    "Select a valid choice",
    "Ensure this value",
    "No results",
    "Are you sure",
    "Something went wrong",
    "Page not found",
]


def english_msgids() -> list[str]:
    """Every English msgid of the pt-BR catalogs (the project's and Django's) whose translation
    differs from it: on a pt-BR page, showing one means a string was left untranslated. A msgid
    with an accented letter is Portuguese already (Django's time zone names), not English."""
    catalog = trans_real.translation("pt-br")._catalog
    return sorted(
        key
        for key in catalog.keys()
        if isinstance(key, str)
        and catalog[key] != key
        and re.search("[A-Za-z]", key)
        and not re.search("[À-ÿ]", key)
    )


def text_checks() -> tuple:
    return (internal_codes(), english_msgids(), ENGLISH_UI_WORDS, ENGLISH_UI_SENTENCES)


# One script run in the page: the layout, wording and text checks.
CHECKS_JS = r"""([codes, msgids, words, sentences]) => {
  const found = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth) {
    found.push(["overflow", `scrollWidth ${doc.scrollWidth} > viewport ${window.innerWidth}`]);
  }
  const visible = (el) => {
    const style = getComputedStyle(el);
    return style.visibility !== "hidden" && style.display !== "none" && el.getClientRects().length;
  };
  const selector = "button, th, td, label, .badge, [class*='badge'], .btn, [role='button']";
  const split = new Set();
  for (const el of document.querySelectorAll(selector)) {
    if (!visible(el)) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement || !visible(node.parentElement)) continue;
      // A compound word may wrap after its hyphen ("e-" / "mail"), as in print: each part
      // between hyphens is a word of its own here. No other split is allowed: not before a
      // hyphen, not after a slash or a dash, not inside a word. Only a long address (an e-mail,
      // a link, a file name) may wrap where it must.
      const re = /[^\s-]+-?/g;
      let m;
      while ((m = re.exec(node.data))) {
        if (m[0].length > 30 && /[@/._:]/.test(m[0])) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set();
        for (const r of range.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top));
        if (tops.size > 1) {
          const cls = el.className ? "." + String(el.className).split(" ")[0] : "";
          const where = el.tagName.toLowerCase() + cls;
          split.add(`"${m[0]}" in <${where}>`);
        }
      }
    }
  }
  for (const s of split) found.push(["word split", s]);
  // The visible text, less what is shown as code on purpose (a template's key, an API name).
  const codeElements = [...document.querySelectorAll("code, kbd, samp, pre")];
  const before = codeElements.map((el) => el.style.visibility);
  codeElements.forEach((el) => { el.style.visibility = "hidden"; });
  const text = document.body.innerText;
  codeElements.forEach((el, i) => { el.style.visibility = before[i]; });
  for (const code of codes) {
    const re = new RegExp(`(?<![\\w@.\\-/#=])${code}(?![\\w@.\\-/=])`);
    const m = text.match(re);
    if (m) {
      const at = Math.max(0, m.index - 40);
      const around = text.slice(at, m.index + code.length + 40).replace(/\s+/g, " ");
      found.push(["internal code", `${code}: …${around}…`]);
    }
  }
  // No English on a pt-BR page (what is marked as another language, as the language menu's
  // "English", aside). A text node or an attribute read by people (placeholder, title,
  // aria-label, alt, a button's value) that equals an English msgid with a pt-BR translation,
  // a sentence of three words or more that contains one, or a common English UI word in the
  // page's chrome (headings, labels, buttons, table heads, badges, help texts, menus, messages).
  const english = new Set();
  if ((doc.lang || "").toLowerCase().startsWith("pt")) {
    const foreign = (el) => {
      const tagged = el.closest("[lang]");
      return tagged && !tagged.lang.toLowerCase().startsWith("pt");
    };
    const norm = (s) => s.replace(/\s+/g, " ").trim();
    const exact = new Set();
    const long = [];
    for (const id of msgids) {
      const plain = norm(id);
      if (/%(\(\w+\))?[sd]|\{\w*\}/.test(plain)) {
        // A msgid with placeholders: its literal parts, in order, with anything between.
        const parts = plain.split(/%(?:\(\w+\))?[sd]|\{\w*\}/).map((p) => p.trim());
        const literal = parts.join(" ").trim();
        if (literal.split(/\s+/).length < 3) continue;
        const body = parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".+?");
        long.push([id, new RegExp(`(?<![\\w])${body}`)]);
      } else {
        exact.add(plain);
        if (plain.split(" ").length >= 3) long.push([id, plain]);
      }
    }
    const wordRe = new RegExp(`(?<![\\w@./-])(${words.join("|")})(?![\\w@/-])`);
    const chrome = "h1, h2, h3, h4, h5, h6, label, legend, caption, summary, button, th, dt, " +
      "option, nav, .btn, .badge, [class*='badge'], [role='button'], [role='alert'], " +
      "[role='status'], .help, .hint, [class*='help'], [class*='error'], .messages, " +
      ".message, .empty, .errorlist";
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || !norm(node.data) || foreign(el)) continue;
      if (el.closest("code, kbd, samp, pre, script, style, template")) continue;
      if (el.tagName !== "OPTION" && !visible(el)) continue;
      texts.push([norm(node.data), el, !!el.closest(chrome)]);
    }
    const attrs = "[placeholder], [title], [aria-label], img[alt], input[type=submit][value], " +
      "input[type=button][value], optgroup[label]";
    for (const el of document.querySelectorAll(attrs)) {
      if (foreign(el)) continue;
      for (const name of ["placeholder", "title", "aria-label", "alt", "value", "label"]) {
        if (name === "value" && el.tagName !== "INPUT") continue;
        if (name === "label" && el.tagName !== "OPTGROUP") continue;
        const value = norm(el.getAttribute(name) || "");
        if (value) texts.push([value, el, true, name]);
      }
    }
    const where = (el, attr) => {
      const cls = el.className && typeof el.className === "string"
        ? "." + el.className.split(" ")[0] : "";
      return `<${el.tagName.toLowerCase()}${cls}>` + (attr ? `[${attr}]` : "");
    };
    for (const [text, el, isChrome, attr] of texts) {
      if (exact.has(text) || exact.has(text.replace(/[:*]+$/, "").trim())) {
        english.add(`"${text}" in ${where(el, attr)}`);
        continue;
      }
      let hit = long.find(([, m]) => (typeof m === "string" ? text.includes(m) : m.test(text)));
      if (hit) {
        english.add(`"${hit[0]}" in "${text.slice(0, 80)}" ${where(el, attr)}`);
        continue;
      }
      hit = sentences.find((s) => text.includes(s));
      if (hit) {
        english.add(`"${hit}" in "${text.slice(0, 80)}" ${where(el, attr)}`);
        continue;
      }
      const m = isChrome && text.match(wordRe);
      if (m) english.add(`"${m[1]}" in "${text.slice(0, 80)}" ${where(el, attr)}`);
    }
  }
  for (const e of english) found.push(["english", e]);
  return found;
}"""


def pattern_of(path: str) -> str:
    return re.sub(r"/[0-9a-f-]{32,36}(?=/|$)|/\d+(?=/|$)", "/N", urlsplit(path).path)


@pytest.fixture
def portfolio(db):
    """The demo tenant (customers, invoices open, overdue and paid, a month of reminders,
    promises, tasks, templates and ladders), with an admin and a viewer, a dispute, a segment,
    a bank file, an import waiting for its mapping, and a send failed, one of unknown outcome
    and one stuck."""
    call_command("seed_demo", slug="crawl", stdout=io.StringIO())
    tenant = Tenant.objects.get(slug="crawl")
    today = tenant_today(tenant=tenant)
    with scope(tenant=tenant):
        overdue = list(
            Invoice.objects.filter(status=InvoiceStatus.OPEN, due_date__lt=today).order_by("pk")
        )
        invoice_dispute_open(tenant=tenant, invoice=overdue[0], reason="Valor cobrado a maior")
        Segment.objects.create(
            tenant=tenant,
            name="Inadimplentes recorrentes",
            priority=1,
            rule={"kind": "tag", "value": "vip"},
            ladder=Ladder.objects.get(is_default=True),
        )
        day = (today - timedelta(days=1)).strftime("%Y%m%d")
        statement = (
            "OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS>\n"
            "<BANKACCTFROM><BANKID>0341<ACCTID>1234-5<ACCTTYPE>CHECKING</BANKACCTFROM>\n"
            "<BANKTRANLIST>\n"
            f"<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>{day}120000[-3:BRT]\n<TRNAMT>{overdue[1].amount}"
            f"\n<FITID>T-1\n<MEMO>PIX RECEBIDO {overdue[1].customer.name.upper()}\n</STMTTRN>\n"
            f"<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>{day}120000[-3:BRT]\n<TRNAMT>7.77"
            "\n<FITID>T-2\n<MEMO>PIX SEM IDENTIFICACAO\n</STMTTRN>\n"
            "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
        ).encode()
        bank_statement_import(tenant=tenant, filename="extrato.ofx", content=statement)
        header = "Código;Valor;Vencimento;Código cliente;Cliente;E-mail"
        row = "F-9;1.234,50;16/12/2026;C-9;Maria Souza;maria@example.com"
        csv = f"{header}\n{row}\n".encode()
        import_job_create(tenant=tenant, filename="faturas.csv", content=csv)
        members = {m.role: m.user for m in tenant.memberships.select_related("user")}
    # Sends with a problem, for the admins' "Envios com problema" page and the timelines.
    unknown_message(tenant, overdue[3], recipient="+5511912345678")
    failed_message(tenant, overdue[4], channel="email", recipient="ana@example.com")
    stuck_message(tenant, overdue[5], recipient="+5511987654321")
    members.setdefault(Role.ADMIN, MembershipFactory(tenant=tenant, role=Role.ADMIN).user)
    members.setdefault(Role.VIEWER, MembershipFactory(tenant=tenant, role=Role.VIEWER).user)
    members.setdefault(Role.AGENT, MembershipFactory(tenant=tenant, role=Role.AGENT).user)
    return {"tenant": tenant, "members": members, "overdue": overdue}


def session_cookie(live_server, user) -> dict:
    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": live_server.url}


class Visit:
    """One browser context of a size, recording console errors and failed requests."""

    def __init__(self, browser, size, cookie=None):
        self.context = browser.new_context(**SIZES[size], **COMMON)
        if cookie:
            self.context.add_cookies([cookie])
        self.page = self.context.new_page()
        self.errors = []
        self.page.on(
            "console",
            lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"),
        )
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on(
            "response",
            lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status} {r.url}"),
        )
        self.page.on(
            "requestfailed", lambda r: self.errors.append(f"request failed: {r.url} {r.failure}")
        )

    def close(self):
        self.context.close()


def check_page(visit, url, codes, axe_source):
    """Load `url` and return its findings as (check, detail) pairs, and its same-origin links.
    `codes` is what checks the text: (internal codes, English msgids, English words, English
    sentences)."""
    page = visit.page
    visit.errors.clear()
    page.goto(url)
    page.wait_for_load_state("networkidle")
    findings = [tuple(f) for f in page.evaluate(CHECKS_JS, list(codes))]
    if axe_source:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(axe_source)
        result = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => ['serious', 'critical'].includes(v.impact))"
            ".map(v => [v.id, v.impact, v.nodes.slice(0, 3).map(n => n.target.join(' '))])"
        )
        findings += [("axe", f"{vid} ({impact}): {targets}") for vid, impact, targets in result]
    findings += [("console/request", e) for e in visit.errors]
    links = page.eval_on_selector_all("a[href]", "els => els.map(a => a.getAttribute('href'))")
    return findings, links


def crawl(browser, live_server, who, start, cookie, codes, axe_source, follow=True):
    origin = live_server.url
    findings = []
    queue, seen, per_pattern, visited = deque([start]), {start}, {}, []
    desktop = Visit(browser, "desktop", cookie)
    try:
        while queue and len(visited) < MAX_PAGES:
            path = queue.popleft()
            found, links = check_page(desktop, origin + path, codes, axe_source)
            final = urlsplit(desktop.page.url)
            if final.path.startswith("/accounts/login"):
                findings.append((who, path, "desktop", "redirect", "sent to the login page"))
                continue
            visited.append(path)
            shot = f"crawl-{who}-{path.strip('/').replace('/', '-') or 'home'}-desktop"
            screenshot(desktop.page, shot)
            findings += [(who, path, "desktop", check, detail) for check, detail in found]
            if not follow:
                continue
            for href in links:
                absolute = urljoin(origin + path, href.split("#")[0])
                parts = urlsplit(absolute)
                if f"{parts.scheme}://{parts.netloc}" != origin:
                    continue
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                if not target or target in seen or SKIP.search(target):
                    continue
                seen.add(target)
                key = pattern_of(target)
                if per_pattern.get(key, 0) >= PER_PATTERN:
                    continue
                per_pattern[key] = per_pattern.get(key, 0) + 1
                queue.append(target)
    finally:
        desktop.close()
    phone = Visit(browser, "phone", cookie)
    try:
        for path in visited:
            found, _links = check_page(phone, origin + path, codes, axe_source)
            shot = f"crawl-{who}-{path.strip('/').replace('/', '-') or 'home'}-phone"
            screenshot(phone.page, shot)
            findings += [(who, path, "phone", check, detail) for check, detail in found]
    finally:
        phone.close()
    return visited, findings


def report(who, visited, findings):
    directory = artifacts_dir()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"crawl-findings-{who}.json").write_text(
        json.dumps({"visited": visited, "findings": findings}, ensure_ascii=False, indent=1)
    )
    lines = [" | ".join(f) for f in findings]
    assert not findings, f"{len(findings)} finding(s) on {len(visited)} pages:\n" + "\n".join(lines)


def axe_or_skip():
    require_service(AXE.is_file(), f"{AXE} is missing (npm ci at the repository root)")
    return AXE.read_text()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.AGENT, Role.VIEWER])
def test_every_dashboard_page_of_a_role_passes_the_checks(live_server, browser, portfolio, role):
    axe_source = axe_or_skip()
    cookie = session_cookie(live_server, portfolio["members"][role])
    visited, findings = crawl(
        browser, live_server, str(role), "/", cookie, text_checks(), axe_source
    )
    assert len(visited) >= 10, visited
    report(str(role), visited, findings)


def test_the_payment_page_passes_the_checks(live_server, browser, portfolio):
    axe_source = axe_or_skip()
    invoice = portfolio["overdue"][2]
    visited, findings = crawl(
        browser,
        live_server,
        "debtor",
        f"/p/{invoice.payment_token}",
        None,
        text_checks(),
        axe_source,
        follow=False,
    )
    report("debtor", visited, findings)


# The checks themselves, on a page made to fail them (and to pass where they must not fire).
CHECKED_PAGE = """<!doctype html><html lang="pt-br"><head><style>
  td, button { font: 16px sans-serif; }
  .narrow { width: 5.5em; display: inline-block; }
  .broken { width: 4em; word-break: break-all; }
</style></head><body>
  <h1>Faturas</h1>
  <form><label for="q">Buscar</label><input id="q" placeholder="Search customers">
  <button type="submit">Save</button><p class="errorlist">This field is required.</p>
  <select><option lang="en">English</option><option>Português (Brasil)</option></select></form>
  <p>Cliente: Maria May, de Campo Grande</p>
  <table><tr><th>Cliente</th></tr><tr><td>Overdue</td></tr>
  <tr><td><span class="narrow">guarda-chuva</span></td></tr>
  <tr><td><div class="broken">Pagamentos</div></td></tr></table>
</body></html>"""


def test_the_checks_find_english_and_split_words_and_spare_what_is_allowed(browser):
    page = browser.new_page(**SIZES["desktop"], **COMMON)
    try:
        page.set_content(CHECKED_PAGE)
        found = page.evaluate(CHECKS_JS, list(text_checks()))
        lines = page.evaluate(
            "() => { const r = document.createRange();"
            " r.selectNodeContents(document.querySelector('.narrow'));"
            " return new Set([...r.getClientRects()].map(c => Math.round(c.top))).size; }"
        )
    finally:
        page.close()
    english = sorted(detail for check, detail in found if check == "english")
    splits = sorted(detail for check, detail in found if check == "word split")
    assert any(d.startswith('"Save" in <button>') for d in english), english
    assert any('"This field is required."' in d for d in english), english
    assert any(d.startswith('"Overdue" in <td>') for d in english), english  # a msgid's text
    assert any("[placeholder]" in d and "Search" in d for d in english), english
    assert not any("English" in d or "Maria May" in d or "Português" in d for d in english)
    assert len(english) == 4, english
    # The compound wraps after its hyphen (allowed); the plain word is cut in two (not).
    assert lines == 2  # "guarda-" / "chuva"
    assert splits == ['"Pagamentos" in <td>'], splits
