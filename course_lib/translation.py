"""A real translation task small enough for a laptop: English dates into Chinese.

``"friday, march 5, 2021"`` → ``"二〇二一年三月五日，星期五"``. The task has what makes
translation hard, on a scale a CPU trains in seconds:

- **reordering**: English writes month-day-year (or day-month-year); Chinese writes
  year-month-day, then the weekday;
- **variable lengths** on both sides, and several English formats for one meaning
  (``"5 mar 2021"``, ``"the fifth of march, 2021"``, ``"03/05/2021"``, ``"2021-03-05"``);
- **real vocabulary work**: numbers become Chinese numerals (``25`` → ``二十五``, year
  digits one by one, ``0`` → ``〇``), ordinals in words are read (``"twenty-first"`` →
  ``二十一``), and the weekday is translated.

:func:`generate_date_pairs` makes the corpus deterministically;
``data/dates_en_zh.tsv`` is its output, kept with its SHA-256 (``data/README.md``).
:func:`load_date_pairs` reads that file, or regenerates the identical corpus when the
file is not there (e.g. course_lib installed on Colab), and refuses a corrupt file.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import random
import re
from pathlib import Path

#: Where the corpus is kept in the repository.
DATES_PATH = Path(__file__).resolve().parent.parent / "data" / "dates_en_zh.tsv"
#: SHA-256 of that file; also listed in data/README.md and checked by the tests.
DATES_SHA256 = "f05ec25a8e01d0b52e7675e44322e4d22240b845f17b61f31c4f165f61590845"
#: The arguments that produced it.
DATES_SIZE, DATES_TEST_SIZE, DATES_SEED = 10_000, 1_000, 2024

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_ORDINAL_UNITS = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"]
_ORDINAL_TEENS = {10: "tenth", 11: "eleventh", 12: "twelfth", 13: "thirteenth", 14: "fourteenth", 15: "fifteenth",
                  16: "sixteenth", 17: "seventeenth", 18: "eighteenth", 19: "nineteenth", 20: "twentieth", 30: "thirtieth"}
_TENS = {2: "twenty", 3: "thirty"}
_DIGITS_ZH = "〇一二三四五六七八九"
_WEEKDAYS_ZH = "一二三四五六日"
#: Pinyin of every character the Chinese side uses, for readers (and plots) without Chinese.
PINYIN = {
    "〇": "ling", "一": "yi", "二": "er", "三": "san", "四": "si", "五": "wu", "六": "liu", "七": "qi", "八": "ba",
    "九": "jiu", "十": "shi", "年": "nian", "月": "yue", "日": "ri", "星": "xing", "期": "qi", "，": ",",
}


def ordinal_words(n: int) -> str:
    """1 → ``"first"``, 21 → ``"twenty-first"``, 30 → ``"thirtieth"`` (1 ≤ n ≤ 31)."""
    if not 1 <= n <= 31:
        raise ValueError(f"ordinal_words: `n` must be a day of the month, 1..31, got {n}")
    if n < 10:
        return _ORDINAL_UNITS[n]
    if n in _ORDINAL_TEENS:
        return _ORDINAL_TEENS[n]
    return f"{_TENS[n // 10]}-{_ORDINAL_UNITS[n % 10]}"


def ordinal_suffix(n: int) -> str:
    """1 → ``"1st"``, 2 → ``"2nd"``, 11 → ``"11th"``, 23 → ``"23rd"``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def chinese_number(n: int) -> str:
    """A month or day number in Chinese numerals: 5 → 五, 10 → 十, 15 → 十五, 20 → 二十, 31 → 三十一."""
    if not 1 <= n <= 99:
        raise ValueError(f"chinese_number: `n` must be 1..99, got {n}")
    tens, units = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS_ZH[tens] + "十")
    return head + (_DIGITS_ZH[units] if units else "")


def chinese_date(date: datetime.date, weekday: bool = False) -> str:
    """The Chinese way to write a date: 二〇二一年三月五日, and ``，星期五`` with the weekday."""
    year = "".join(_DIGITS_ZH[int(d)] for d in f"{date.year:04d}")
    text = f"{year}年{chinese_number(date.month)}月{chinese_number(date.day)}日"
    return text + f"，星期{_WEEKDAYS_ZH[date.weekday()]}" if weekday else text


#: English formats: name -> function(date) -> text. Weekday-capable formats are marked.
ENGLISH_FORMATS = {
    "month d, yyyy": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "d month yyyy": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "mon d yyyy": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}",
    "the dth of month, yyyy": lambda d: f"the {ordinal_suffix(d.day)} of {MONTHS[d.month - 1]}, {d.year}",
    "the ordinal of month yyyy": lambda d: f"the {ordinal_words(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    "month ordinal, yyyy": lambda d: f"{MONTHS[d.month - 1]} {ordinal_words(d.day)}, {d.year}",
    "mm/dd/yyyy": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",
    "yyyy-mm-dd": lambda d: f"{d.year}-{d.month:02d}-{d.day:02d}",
}
_WITH_WEEKDAY = ("month d, yyyy", "d month yyyy", "the dth of month, yyyy", "month ordinal, yyyy")


def english_date(date: datetime.date, style: str, weekday: bool = False) -> str:
    """``date`` in one of :data:`ENGLISH_FORMATS`, optionally led by the weekday (``"friday, ..."``)."""
    if style not in ENGLISH_FORMATS:
        raise ValueError(f"english_date: `style` must be one of {list(ENGLISH_FORMATS)}, got {style!r}")
    if weekday and style not in _WITH_WEEKDAY:
        raise ValueError(f"english_date: style {style!r} is not written with a weekday; those are {list(_WITH_WEEKDAY)}")
    text = ENGLISH_FORMATS[style](date)
    return f"{WEEKDAYS[date.weekday()]}, {text}" if weekday else text


def tokenize_english(text: str) -> list[str]:
    """Words, single digits and punctuation: ``"march 15, 2021"`` → ``march 1 5 , 2 0 2 1``."""
    return re.findall(r"[a-z]+|\d|[^\sa-z\d]", text.lower())


def tokenize_chinese(text: str) -> list[str]:
    """One token per character."""
    return list(text)


@dataclasses.dataclass(frozen=True)
class DatePairs:
    """The corpus, split. ``*_source`` are English strings, ``*_target`` Chinese strings."""

    train_source: list[str]
    train_target: list[str]
    test_source: list[str]
    test_target: list[str]


def generate_date_pairs(size: int = DATES_SIZE, test_size: int = DATES_TEST_SIZE, seed: int = DATES_SEED) -> list[tuple[str, str, str]]:
    """``size`` distinct (split, english, chinese) triples, the last ``test_size`` of them "test".

    Dates are drawn uniformly from 1950-01-01 to 2049-12-31; the format uniformly from
    :data:`ENGLISH_FORMATS`; a weekday is added to a third of the formats that take one.
    A test date never appears in training, in any format, so the test measures
    translation of unseen dates.
    """
    if not 0 < test_size < size:
        raise ValueError(f"generate_date_pairs: need 0 < test_size < size, got test_size={test_size}, size={size}")
    rng = random.Random(seed)
    start, days = datetime.date(1950, 1, 1), (datetime.date(2049, 12, 31) - datetime.date(1950, 1, 1)).days
    test_dates = set()
    while len(test_dates) < test_size:
        test_dates.add(start + datetime.timedelta(days=rng.randrange(days + 1)))
    rows, seen = [], set()

    def draw(date, split):
        style = rng.choice(list(ENGLISH_FORMATS))
        weekday = style in _WITH_WEEKDAY and rng.random() < 1 / 3
        english = english_date(date, style, weekday)
        if english not in seen:
            seen.add(english)
            rows.append((split, english, chinese_date(date, weekday)))

    while len(rows) < size - test_size:
        date = start + datetime.timedelta(days=rng.randrange(days + 1))
        if date not in test_dates:
            draw(date, "train")
    for date in sorted(test_dates):
        while True:
            before = len(rows)
            draw(date, "test")
            if len(rows) > before:
                break
    return rows


def _as_tsv(rows) -> str:
    return "split\tenglish\tchinese\n" + "".join(f"{s}\t{e}\t{c}\n" for s, e, c in rows)


def write_date_pairs(path: str | Path = DATES_PATH) -> str:
    """Write the corpus to ``path`` and return its SHA-256 (the command that made data/dates_en_zh.tsv)."""
    text = _as_tsv(generate_date_pairs())
    Path(path).write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_date_pairs(path: str | Path | None = None) -> DatePairs:
    """The English→Chinese date corpus: 9,000 training and 1,000 test pairs.

    Args:
        path: a TSV written by :func:`write_date_pairs`. Default: ``data/dates_en_zh.tsv``
            if it exists, checked against :data:`DATES_SHA256`; if it does not exist
            (course_lib installed without the repository), the identical corpus is
            generated in memory.

    Raises:
        ValueError: the file's checksum or format is wrong (a corrupt or edited file).
    """
    if path is None and not DATES_PATH.is_file():
        rows = generate_date_pairs()
    else:
        path = Path(DATES_PATH if path is None else path)
        raw = path.read_bytes()
        if path == DATES_PATH:
            digest = hashlib.sha256(raw).hexdigest()
            if digest != DATES_SHA256:
                raise ValueError(
                    f"load_date_pairs: {path} is corrupt or was edited: sha256 {digest}, expected {DATES_SHA256}. "
                    "Restore it with `git checkout data/dates_en_zh.tsv`, or regenerate it with "
                    "`python -c 'from course_lib.translation import write_date_pairs; write_date_pairs()'`."
                )
        rows = _parse(path, raw)
    pairs = {"train": ([], []), "test": ([], [])}
    for split, english, chinese in rows:
        pairs[split][0].append(english)
        pairs[split][1].append(chinese)
    return DatePairs(*pairs["train"], *pairs["test"])


def _parse(path: Path, raw: bytes) -> list[tuple[str, str, str]]:
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"load_date_pairs: {path} is not UTF-8 text ({exc})") from exc
    if not lines or lines[0] != "split\tenglish\tchinese":
        raise ValueError(f"load_date_pairs: {path} must start with the header 'split<TAB>english<TAB>chinese', got {lines[:1]!r}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 3 or fields[0] not in ("train", "test") or not fields[1] or not fields[2]:
            raise ValueError(f"load_date_pairs: {path} line {number} is not 'train|test<TAB>english<TAB>chinese': {line!r}")
        rows.append(tuple(fields))
    if not rows:
        raise ValueError(f"load_date_pairs: {path} holds no pairs")
    return rows
