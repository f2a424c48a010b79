"""CSV import of leads (``kehu leads import``): streamed in batches through :func:`services.add_leads`.

The file is read row by row with the csv module and handed to ``add_leads`` in batches of :data:`BATCH` rows,
each batch one transaction (DESIGN.md Decision 3), so memory stays flat for millions of rows and a re-run
after a crash finishes the job without duplicates.

Encoding. UTF-8 (with or without BOM) or GBK/GB18030, decided on the first 64 KiB: UTF-8 if the sample
decodes as UTF-8, else GB18030 (a superset of GBK) if it decodes as that, else the file is ``invalid``. A
pure-ASCII sample leaves the choice to the first line that is not ASCII. Lines are decoded one by one, so a
stray undecodable line rejects its own row and no other.

Columns. English headers (``name``, ``company``, ``phone``, ...), the Chinese headers of DOMAIN.md §1.9a,
``--map "Header=field,..."`` and the presets ``odoo`` and ``salesforce`` (their lead exports). When a file
has a contact column (联系人 or 姓名) as well as 客户名称, the latter is the company (Decision 10). When
several columns feed one field, the first non-empty one wins, in this order: ``--map``, the preset, then
the built-in headers (mobile columns before landline ones). A column that matches nothing is reported once
in ``unmapped``; a header equal to a declared lead custom field (its name or label) fills ``custom``.

Rows. Each bad row is written to the errors file (the input's header plus ``line`` and ``error``; ``line``
is where the record starts, counting the header as line 1) and every good row is kept.
``inserted + updated + skipped + rejected`` is the number of data rows (blank lines are not rows).

Duplicates. ``add_leads`` matches existing leads by e-mail or mobile. A row with neither is matched on
(name, company key, phone key) by the import itself, so importing the same file twice inserts nothing new.
A row that repeats an earlier row of the same file (same e-mail, mobile, or — with neither — same name,
company and phone) is rejected as a duplicate inside the file, whatever ``--on-duplicate`` says; across
batches that is recognised because the earlier row's lead was inserted, updated or matched by this run
(a sparse bitmap of lead ids, a few KiB).
"""

import codecs
import contextlib
import csv
import functools
import os
import sys
import unicodedata

from kehu.core import access, customfields, normalize
from kehu.core.context import service
from kehu.core.models import User
from kehu.errors import Invalid
from kehu.plugins.leads import services
from kehu.plugins.leads.models import HELD, Lead

BATCH = 1000  # rows per add_leads call: one transaction; 1000 x 17 lead columns stays under SQLite's 32766
SAMPLE = 1 << 16  # bytes read to decide the encoding
ON_DUPLICATE = ("skip", "update", "error")

FIELDS = ("name", "company", "phone", "email", "region", "industry", "source", "owner")
NAME_PARTS = ("first_name", "last_name")  # combined into ``name`` (Salesforce exports split it)
IGNORE = ("-", "ignore")  # ``--map "Notes=-"``: drop a column without reporting it

# DOMAIN.md §1.9a, each target's headers in order of preference (a mobile before a landline).
CHINESE = {
    "name": ("姓名", "联系人", "客户名称"),
    "company": ("公司", "公司名称", "单位"),
    "phone": ("手机", "手机号", "联系电话", "电话"),
    "email": ("邮箱", "电子邮件"),
    "region": ("地区", "区域", "省份"),
    "industry": ("行业",),
    "source": ("来源", "资料来源", "线索来源"),
    "owner": ("负责人", "业务员"),
}
CONTACT_HEADERS = ("联系人", "姓名")
CUSTOMER_NAME_HEADER = "客户名称"

# Lead exports of other CRMs: (header, field) in order of preference per field. Both the labels of a
# user-facing export and the technical names of an import-compatible / API export.
PRESETS = {
    # Odoo crm.lead: field labels (contact_name "Contact Name", partner_name "Company Name", email_from
    # "Email", phone, mobile, city, state_id "State", source_id "Source") and the technical names.
    "odoo": (
        ("Contact Name", "name"), ("contact_name", "name"), ("Opportunity", "name"),
        ("Company Name", "company"), ("partner_name", "company"),
        ("Email", "email"), ("email_from", "email"),
        ("Mobile", "phone"), ("mobile", "phone"), ("Phone", "phone"),
        ("State", "region"), ("state_id", "region"), ("City", "region"),
        ("Source", "source"), ("source_id", "source"),
    ),
    # Salesforce Lead: report / import-wizard labels and the API names of a Data Loader export.
    "salesforce": (
        ("First Name", "first_name"), ("FirstName", "first_name"),
        ("Last Name", "last_name"), ("LastName", "last_name"),
        ("Company", "company"), ("Company / Account", "company"),
        ("Email", "email"),
        ("Mobile", "phone"), ("Mobile Phone", "phone"), ("MobilePhone", "phone"), ("Phone", "phone"),
        ("State/Province", "region"), ("State", "region"), ("City", "region"),
        ("Industry", "industry"),
        ("Lead Source", "source"), ("LeadSource", "source"),
    ),
}


def header_key(text):
    """A header as matched: no BOM, whitespace collapsed, case folded."""
    return " ".join(str(text).replace("\ufeff", "").split()).casefold()


# --- the column plan --------------------------------------------------------------------------------------


class Plan:
    """Which columns feed which field, decided once from the header.

    ``fields`` maps a field (or ``first_name``/``last_name``) to its column indexes in order of preference;
    ``custom`` maps a custom field name to its columns; ``unmapped`` lists headers that feed nothing.
    """

    def __init__(self, header, mapping=None, custom_fields=None, path="the file"):
        self.header = header
        self.width = len(header)
        explicit, preset = parse_mapping(mapping, custom_fields or {})
        keys = [header_key(h) for h in header]
        present = set(keys)
        missing = [h for h in explicit if h not in present]
        if missing:
            raise Invalid(f"--map names column {explicit[missing[0]][1]!r}, but {path} has no such column "
                          f"(its header is {', '.join(header)})")
        custom_by_key = {}
        for name, definition in (custom_fields or {}).items():
            for label in (definition.label, name):
                if label:
                    custom_by_key.setdefault(header_key(label), name)
        builtin = {}
        for field in FIELDS:
            builtin[field] = (0, field)
        for field, headers in CHINESE.items():
            for rank, text in enumerate(headers):
                builtin[header_key(text)] = (rank, field)
        # 客户名称 is the company when the file also names a contact (Decision 10).
        if header_key(CUSTOMER_NAME_HEADER) in present and any(header_key(h) in present for h in CONTACT_HEADERS):
            builtin[header_key(CUSTOMER_NAME_HEADER)] = (len(CHINESE["company"]), "company")

        ranked = {}  # field -> [(source, rank, column)]
        self.custom = {}
        self.unmapped = []
        for column, key in enumerate(keys):
            if key in explicit:
                target = explicit[key][0]
                source, rank = 0, 0
            elif key in preset:
                rank, target = preset[key]
                source = 1
            elif key in builtin:
                rank, target = builtin[key]
                source = 2
            elif key in custom_by_key:
                self.custom.setdefault(custom_by_key[key], []).append(column)
                continue
            else:
                label = header[column].replace("\ufeff", "").strip()
                self.unmapped.append(label or f"(column {column + 1}, no header)")
                continue
            if target in IGNORE:
                continue
            if target in FIELDS or target in NAME_PARTS:
                ranked.setdefault(target, []).append((source, rank, column))
            else:  # a custom field named by --map
                self.custom.setdefault(target, []).append(column)
        self.fields = {field: [c for _, _, c in sorted(entries)] for field, entries in ranked.items()}
        if "name" not in self.fields and not any(part in self.fields for part in NAME_PARTS):
            raise Invalid(f"{path} has no name column: its header is {', '.join(header) or '(empty)'}; name one "
                          f"column name, 姓名, 联系人 or 客户名称, or map one with --map 'HEADER=name'")
        # Per-row work is a few tuple lookups: one column → a plain get, several → the first non-empty.
        self.single = [(f, cols[0]) for f, cols in self.fields.items() if len(cols) == 1 and f in FIELDS]
        self.multi = [(f, cols) for f, cols in self.fields.items() if len(cols) > 1 and f in FIELDS]
        self.parts = [self.fields.get(part, []) for part in NAME_PARTS]
        self.has_parts = any(self.parts)
        self.custom_columns = list(self.custom.items())

    def record(self, row):
        """The add_leads input of one CSV row (values stripped, empty → None; custom values only when set)."""
        width = len(row)
        record = {}
        for field, column in self.single:
            value = row[column].strip() if column < width else ""
            record[field] = value or None
        for field, columns in self.multi:
            value = None
            for column in columns:
                if column < width and row[column].strip():
                    value = row[column].strip()
                    break
            record[field] = value
        if self.has_parts and not record.get("name"):
            first, last = (_first(row, cols) for cols in self.parts)
            record["name"] = join_name(first, last)
        custom = {}
        for name, columns in self.custom_columns:
            value = _first(row, columns)
            if value is not None:
                custom[name] = value
        if custom:
            record["custom"] = custom
        return record


def _first(row, columns):
    width = len(row)
    for column in columns:
        if column < width:
            value = row[column].strip()
            if value:
                return value
    return None


def _cjk(text):
    return all(unicodedata.east_asian_width(ch) in ("W", "F") for ch in text)


def join_name(first, last):
    """First and last name as one: ``张`` + ``三`` → ``张三`` (family name first), else ``Jane Doe``."""
    if not first or not last:
        return first or last
    if _cjk(first) and _cjk(last):
        return last + first
    return f"{first} {last}"


def parse_mapping(specs, custom_fields):
    """``--map`` values → ``(explicit, preset)``.

    Each value is a comma list whose items are ``HEADER=field`` or a preset name. ``explicit`` maps a header
    key to ``(field, header as written)``; ``preset`` maps a header key to ``(rank, field)``.
    """
    if isinstance(specs, str):
        specs = [specs]
    explicit, preset = {}, {}
    targets = set(FIELDS) | set(NAME_PARTS) | set(IGNORE) | set(custom_fields)
    for spec in specs or ():
        for item in str(spec).split(","):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                header, _, target = item.rpartition("=")
                header, target = header.strip(), target.strip()
                if not header:
                    raise Invalid(f"--map item {item!r} names no column: write HEADER=field")
                if target not in targets:
                    raise Invalid(f"--map item {item!r}: {target!r} is not a lead field (one of "
                                  f"{', '.join(FIELDS + NAME_PARTS)}, a lead custom field, or - to drop it)")
                explicit[header_key(header)] = (target, header)
                continue
            entries = PRESETS.get(item.casefold())
            if entries is None:
                raise Invalid(f"unknown --map preset {item!r}: use {' or '.join(PRESETS)}, or HEADER=field,...")
            for rank, (header, target) in enumerate(entries):
                preset.setdefault(header_key(header), (rank, target))
    return explicit, preset


# --- reading the file ---------------------------------------------------------------------------------------


def detect_encoding(sample, complete):
    """``"utf-8"``, ``"gb18030"`` or ``None`` (ASCII so far: the first non-ASCII line decides); raise ``Invalid``.

    Decided line by line over the sample, by majority of its non-ASCII lines, so one stray bad byte in a
    UTF-8 file rejects its own row instead of turning the whole file into GB18030 mojibake.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if b"\x00" in sample:
        raise Invalid("is not a CSV text file (it contains NUL bytes: binary, or UTF-16 — save it as UTF-8)")
    if sample.isascii():
        return None
    lines = sample.split(b"\n")
    partial = None
    if not complete:
        partial = lines.pop()  # may end inside a character
    votes = {"utf-8": 0, "gb18030": 0, None: 0}
    for line in lines + ([partial] if partial else []):
        if line.isascii():
            continue
        for encoding in ("utf-8", "gb18030", None):
            if encoding is None:
                votes[None] += 1
                break
            try:
                codecs.getincrementaldecoder(encoding)().decode(line, final=line is not partial)
            except UnicodeDecodeError:
                continue
            votes[encoding] += 1
            break
    if not votes["utf-8"] and not votes["gb18030"]:
        raise Invalid("is neither UTF-8 nor GBK/GB18030 text")
    return "utf-8" if votes["utf-8"] >= votes["gb18030"] else "gb18030"


class Source:
    """The file's lines, decoded one by one; remembers lines that would not decode and how far it has read."""

    def __init__(self, handle, encoding):
        self.handle = handle
        self.encoding = encoding
        self.bytes_read = 0
        self.bad_lines = []  # physical line numbers that did not decode (ascending)

    def lines(self):
        encoding = self.encoding
        for number, raw in enumerate(self.handle, 1):
            self.bytes_read += len(raw)
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
                encoding = self.encoding = "utf-8"
            if encoding is None:  # ASCII so far
                if raw.isascii():
                    yield raw.decode("ascii")
                    continue
                for candidate in ("utf-8", "gb18030"):
                    try:
                        text = raw.decode(candidate)
                    except UnicodeDecodeError:
                        continue
                    encoding = self.encoding = candidate
                    yield text
                    break
                else:
                    self.bad_lines.append(number)
                    yield raw.decode("utf-8", "replace")
                continue
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError:
                self.bad_lines.append(number)
                yield raw.decode(encoding, "replace")


def _delimiter(first_line):
    """``,`` unless the header has none and is clearly tab- or semicolon-separated (spreadsheet exports)."""
    if "," in first_line:
        return ","
    for candidate in ("\t", ";"):
        if candidate in first_line:
            return candidate
    return ","


# --- the import ---------------------------------------------------------------------------------------------


class IdSet:
    """A sparse bitmap of lead ids: pages of 65536 ids in 8 KiB each."""

    def __init__(self):
        self.pages = {}

    def add(self, number):
        page = self.pages.get(number >> 16)
        if page is None:
            page = self.pages[number >> 16] = bytearray(8192)
        low = number & 0xFFFF
        page[low >> 3] |= 1 << (low & 7)

    def __contains__(self, number):
        page = self.pages.get(number >> 16)
        if page is None:
            return False
        low = number & 0xFFFF
        return bool(page[low >> 3] & (1 << (low & 7)))


class _RolledBack(Exception):
    def __init__(self, result):
        super().__init__("dry run")
        self.result = result


@service
def _dry_run(context, work):
    """Run ``work()`` in one transaction and roll it back: a dry run counts exactly what a real run would."""
    raise _RolledBack(work())


def default_errors_path(path):
    stem, _ = os.path.splitext(path)
    return stem + ".errors.csv"


def import_leads(context, path, pool=None, dry_run=False, errors=None, on_duplicate="skip", mapping=None,
                 progress=None, batch_size=BATCH):
    """Import leads from the CSV file at ``path``; see the module docstring.

    ``errors`` is where bad rows go (default ``FILE.errors.csv`` beside the input, written only when a row
    is rejected); ``mapping`` is ``--map`` (a string or a list of strings); ``progress(bytes_read,
    total_bytes)`` is called after each batch. Returns ``{"inserted", "updated", "skipped", "rejected",
    "errors_file", "unmapped"}``. Raises ``invalid`` (nothing written) for an unreadable file, an unknown
    encoding, a bad ``--map`` or a header without a name column.
    """
    if on_duplicate not in ON_DUPLICATE:
        raise Invalid(f"--on-duplicate must be one of {', '.join(ON_DUPLICATE)}, not {on_duplicate!r}")
    access.require(context, "create", "import leads")
    if pool:
        services.pool_by_name(context, pool)  # not_found before anything is read
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror or exc}") from None
    errors_path = errors or default_errors_path(path)
    if os.path.exists(errors_path) and os.path.samefile(errors_path, path):
        handle.close()
        raise Invalid(f"--errors {errors_path} is the file being imported: name another file")
    with handle:
        try:
            total = os.fstat(handle.fileno()).st_size
            sample = handle.read(SAMPLE)
            handle.seek(0)
            encoding = detect_encoding(sample, complete=len(sample) < SAMPLE)
        except Invalid as exc:
            raise Invalid(f"{path} {exc.message}") from None
        except OSError as exc:
            raise Invalid(f"cannot read {path}: {exc.strerror or exc}") from None
        source = Source(handle, encoding)
        lines = source.lines()
        first = next(lines, None)
        if first is None or not first.strip():
            raise Invalid(f"{path} is empty: the first line must be the header")

        def chained():
            yield first
            yield from lines

        reader = csv.reader(chained(), delimiter=_delimiter(first))
        try:
            header = next(reader)
        except csv.Error as exc:
            raise Invalid(f"{path}: the header line is not CSV ({exc})") from None
        if source.bad_lines:
            raise Invalid(f"{path}: the header line is neither UTF-8 nor GBK/GB18030 text")
        plan = Plan(header, mapping, customfields.definitions(context, "lead"), path)
        job = _Job(context, plan, source, pool, on_duplicate, errors_path, keep_empty_errors=errors is not None)
        work = functools.partial(job.run, reader, batch_size, progress, total)
        with job.errors_file():
            if dry_run:
                try:
                    _dry_run(context, work)
                except _RolledBack as done:
                    result = done.result
            else:
                result = work()
    return result


class _Job:
    """One run of the import: the row loop, the batches, the errors file and the counts."""

    def __init__(self, context, plan, source, pool, on_duplicate, errors_path, keep_empty_errors):
        self.context = context
        self.plan = plan
        self.source = source
        self.pool = pool
        self.on_duplicate = on_duplicate
        self.errors_path = errors_path
        self.keep_empty_errors = keep_empty_errors
        self.region = services.phone_region(context)
        self.counts = {"inserted": 0, "updated": 0, "skipped": 0, "rejected": 0}
        self.touched = IdSet()  # leads this run inserted, updated or matched
        self.owner_logins = None
        self.pending = []  # rows rejected before their batch reached add_leads
        self._writer = None
        self._handle = None

    # --- the errors file -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def errors_file(self):
        # Opened up front, so an unwritable path fails before any row is written (and not halfway).
        try:
            # UTF-8 with a BOM: Excel and WPS then show Chinese correctly, and kehu reads it back.
            self._handle = open(self.errors_path, "w", encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise Invalid(f"cannot write the errors file {self.errors_path}: {exc.strerror or exc}") from None
        try:
            self._writer = csv.writer(self._handle)
            self._writer.writerow([*self.plan.header, "line", "error"])
            yield
        finally:
            self._handle.close()
            if not self.counts["rejected"] and not self.keep_empty_errors:
                with contextlib.suppress(OSError):
                    os.remove(self.errors_path)

    def reject(self, line, row, error):
        """Hold a bad row until its batch is written, so the errors file is in line order."""
        self.pending.append((line, row, error))

    def write_rejected(self, rejected):
        width = self.plan.width
        writer = self._writer
        for line, row, error in sorted(rejected, key=lambda r: r[0]):
            cells = row[:width] if len(row) >= width else row + [""] * (width - len(row))
            writer.writerow([*cells, line, error])
        self.counts["rejected"] += len(rejected)

    # --- the row loop ----------------------------------------------------------------------------------

    def run(self, reader, batch_size, progress, total):
        plan, source = self.plan, self.source
        bad_lines = source.bad_lines
        width = plan.width
        batch = []
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                self.reject(start, [], f"not readable as CSV: {exc}")
                start = reader.line_num + 1
                continue
            line, end = start, reader.line_num
            start = end + 1
            if not row:
                continue  # a blank line is not a row
            if bad_lines and bad_lines[0] <= end:
                undecodable = [n for n in bad_lines if n <= end]
                del bad_lines[:len(undecodable)]
                if undecodable[-1] >= line:
                    self.reject(line, row, f"line {undecodable[-1]} is not valid "
                                           f"{'GBK/GB18030' if source.encoding == 'gb18030' else 'UTF-8'} text")
                    continue
            if len(row) > width and any(cell.strip() for cell in row[width:]):
                self.reject(line, row, f"has {len(row)} values but the header has {width} columns")
                continue
            record = plan.record(row)
            if not record.get("name"):
                if any(cell.strip() for cell in row):
                    self.reject(line, row, "name is missing")
                continue  # only separators or spaces: a blank line too
            batch.append((line, row, record))
            if len(batch) >= batch_size or len(self.pending) >= batch_size:
                self.flush(batch)
                batch = []
                if progress is not None:
                    progress(source.bytes_read, total)
        if batch or self.pending:
            self.flush(batch)
        if progress is not None:
            progress(source.bytes_read, total)
        return {**self.counts, "errors_file": self.errors_path if (self.counts["rejected"]
                                                                    or self.keep_empty_errors) else None,
                "unmapped": list(plan.unmapped)}

    def flush(self, batch):
        rejected, self.pending = self.pending, []
        if batch:
            self._resolve_owners(batch)
            outcome = _import_batch(self.context, self, batch)
            rejected += outcome["rejected"]
            for key in ("inserted", "updated", "skipped"):
                self.counts[key] += outcome[key]
        self.write_rejected(rejected)

    def _resolve_owners(self, batch):
        """An ``owner`` cell may hold a login or a user's name (负责人 columns usually hold names)."""
        if "owner" not in self.plan.fields:
            return
        if self.owner_logins is None:
            logins, names = {}, {}
            for login, name in User.select(User.login, User.name).where(
                    User.workspace == self.context.workspace).tuples():
                logins[login] = login
                if name:
                    names[name] = None if name in names else login  # None: two users share the name
            self.owner_logins = (logins, names)
        logins, names = self.owner_logins
        for _, _, record in batch:
            owner = record.get("owner")
            if owner and owner not in logins and names.get(owner):
                record["owner"] = names[owner]

    # --- one batch, one transaction ---------------------------------------------------------------------

    def match_keys(self, record):
        """``(marks, keys)``: what makes two rows the same lead, or ``(None, None)`` when a key does not compute.

        The e-mail and the mobile (add_leads' rule); with neither, ``("same", name, company key, phone key)``.
        Only what is needed is computed: the company key only for rows without e-mail and mobile.
        """
        try:
            phone, mobile = normalize.phone_e164(record.get("phone"), self.region) if record.get("phone") \
                else (None, False)
            email = normalize.email_key(record.get("email"))
        except ValueError:
            return None, None  # add_leads rejects the row with the schema's message
        keys = {"email_key": email, "phone_key": phone, "phone_mobile": mobile}
        if email or mobile:
            return ([email, phone] if email and mobile else [email or phone]), keys
        return [("same", record["name"], normalize.company_key(record.get("company")) or None, phone)], keys

    def process(self, batch):
        context = self.context
        rejected, passed, fingerprints = [], [], []
        seen = {}
        for line, row, record in batch:
            marks, keys = self.match_keys(record)
            if marks is not None:
                first = next((seen[m] for m in marks if m in seen), None)
                if first is not None:
                    rejected.append((line, row, f"duplicate of line {first} of this file"))
                    continue
                for mark in marks:
                    seen[mark] = line
            item = [line, row, record, marks, keys, None]
            passed.append(item)
            if marks is not None and isinstance(marks[0], tuple):
                fingerprints.append(item)
        if self.on_duplicate == "update":
            # add_leads would update a lead an earlier line of this file wrote: find those first.
            keyed = [item for item in passed if item[3] is not None and not isinstance(item[3][0], tuple)]
            for item, match in zip(keyed, services.find_duplicates(context, [item[4] for item in keyed])):
                item[5] = match
        if fingerprints:
            by_print = self._fingerprint_matches([item[3][0] for item in fingerprints])
            for item in fingerprints:
                item[5] = by_print.get(item[3][0])
        records, lines = [], []
        skipped = 0
        touched = self.touched
        for line, row, record, marks, keys, match in passed:
            if match is not None and match.id in touched:
                rejected.append((line, row, in_file_duplicate(match.id)))
                continue
            if match is not None and isinstance(marks[0], tuple):
                error = self._fingerprint_duplicate(match, record)
                if error:
                    rejected.append((line, row, error))
                else:
                    touched.add(match.id)
                    skipped += 1
                continue
            records.append(record)
            lines.append((line, row))
        outcome = services.add_leads(context, records, origin="import", on_duplicate=self.on_duplicate,
                                     pool=self.pool)
        # A match with a lead this run already wrote or matched is a duplicate inside the file: add_leads
        # skipped it or refused it (no write), and it is reported as such.
        for item in outcome["skipped"]:
            lead_id = item.get("lead")
            if lead_id is not None and lead_id in touched:
                line, row = lines[item["index"]]
                rejected.append((line, row, in_file_duplicate(lead_id)))
                continue
            skipped += 1
            if lead_id is not None:
                touched.add(lead_id)
        for item in outcome["rejected"]:
            line, row = lines[item["index"]]
            lead_id = item.get("lead")
            rejected.append((line, row, in_file_duplicate(lead_id) if lead_id is not None and lead_id in touched
                             else item["error"]))
        for item in outcome["created"]:
            touched.add(item["id"])
        for item in outcome["updated"]:
            touched.add(item["lead"])
        rejected.sort(key=lambda r: r[0])
        return {"inserted": len(outcome["created"]), "updated": len(outcome["updated"]), "skipped": skipped,
                "rejected": rejected}

    def _fingerprint_matches(self, prints):
        """Existing leads without e-mail and mobile matching ``("same", name, company key, phone key)`` prints.

        Looked up through an indexed key — the landline, else the company — and by name only for rows that
        have neither; a few queries per batch, each an index range, whatever the size of the table.
        """
        ws = self.context.workspace
        phones = {p[3] for p in prints if p[3]}
        companies = {p[2] for p in prints if not p[3] and p[2]}
        names = {p[1] for p in prints if not p[3] and not p[2]}
        # Only the indexed condition goes to SQL: given "email_key IS NULL" too, SQLite's planner (no
        # statistics) scans that index — half the table — instead. The rest is checked here.
        conditions = []
        if phones:
            conditions.append(Lead.phone_key.in_(sorted(phones)))
        if companies:
            conditions.append(Lead.company_key.in_(sorted(companies)))
        if names:
            # No index on name: the range of leads without a company (and phone) is what gets read.
            conditions.append(Lead.name.in_(sorted(names)) & Lead.company_key.is_null() & Lead.phone_key.is_null())
        wanted = set(prints)
        found = {}
        for condition in conditions:
            for lead in (Lead.select(Lead.id, Lead.name, Lead.company_key, Lead.phone_key, Lead.phone_mobile,
                                     Lead.email_key, Lead.state, Lead.holder)
                         .where(Lead.workspace == ws, condition).order_by(Lead.id)):
                if lead.email_key is not None or (lead.phone_key and lead.phone_mobile):
                    continue
                key = ("same", lead.name, lead.company_key, lead.phone_key)
                if key in wanted:
                    found.setdefault(key, lead)
        return found

    def _fingerprint_duplicate(self, match, record):
        """The error for a row matching ``match`` on name+company+phone, or None to skip it (as add_leads would)."""
        if match.state == HELD and match.holder_id is not None:
            holder = User.get_by_id(match.holder_id).login
            if record.get("owner") != holder:
                return f"duplicate of lead {match.id}, held by {holder}"
        if self.on_duplicate == "error":
            return f"duplicate of lead {match.id}"
        return None


def in_file_duplicate(lead_id):
    return f"duplicate of an earlier line of this file (lead {lead_id})"


@service
def _import_batch(context, job, batch):
    """One batch: the import's own duplicate checks and add_leads in one transaction."""
    return job.process(batch)


def progress_display(enabled):
    """A rich progress bar on stderr for a terminal (``progress(done, total)``), or a no-op context."""
    if not enabled or not sys.stdout.isatty():
        return contextlib.nullcontext(None)
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return contextlib.nullcontext(None)
    return _RichProgress(console)


class _RichProgress:
    def __init__(self, console):
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(TextColumn("importing"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                                 TimeRemainingColumn(), console=console, transient=True)
        self.task = None

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def __call__(self, done, total):
        if self.task is None:
            self.task = self.progress.add_task("import", total=total or None)
        self.progress.update(self.task, completed=done)

