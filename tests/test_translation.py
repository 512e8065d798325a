"""The date corpus: right translations, a clean split, a file that is what the code makes."""

import datetime
import hashlib

import pytest

from course_lib import translation as T


@pytest.mark.parametrize(
    "n, zh", [(1, "一"), (5, "五"), (10, "十"), (11, "十一"), (19, "十九"), (20, "二十"), (21, "二十一"), (30, "三十"), (31, "三十一")]
)
def test_chinese_numbers(n, zh):
    assert T.chinese_number(n) == zh


def test_chinese_date_and_weekday():
    date = datetime.date(2021, 3, 5)  # a Friday
    assert T.chinese_date(date) == "二〇二一年三月五日"
    assert T.chinese_date(date, weekday=True) == "二〇二一年三月五日，星期五"
    assert T.chinese_date(datetime.date(1999, 12, 26), weekday=True) == "一九九九年十二月二十六日，星期日"


def test_english_formats():
    date = datetime.date(2021, 3, 21)
    assert T.english_date(date, "month d, yyyy", weekday=True) == "sunday, march 21, 2021"
    assert T.english_date(date, "the ordinal of month yyyy") == "the twenty-first of march 2021"
    assert T.english_date(date, "the dth of month, yyyy") == "the 21st of march, 2021"
    assert T.english_date(date, "mm/dd/yyyy") == "03/21/2021"
    assert [T.ordinal_suffix(n) for n in (1, 2, 3, 4, 11, 12, 13, 22, 31)] == ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "22nd", "31st"]
    assert [T.ordinal_words(n) for n in (1, 12, 20, 23, 30)] == ["first", "twelfth", "twentieth", "twenty-third", "thirtieth"]


def test_tokenizers():
    assert T.tokenize_english("Friday, March 15, 2021") == ["friday", ",", "march", "1", "5", ",", "2", "0", "2", "1"]
    assert T.tokenize_chinese("三月五日") == ["三", "月", "五", "日"]


def test_shipped_file_is_what_the_code_generates():
    text = T._as_tsv(T.generate_date_pairs())
    assert hashlib.sha256(text.encode()).hexdigest() == T.DATES_SHA256
    assert T.DATES_PATH.read_bytes() == text.encode()


def test_load_splits_and_test_dates_are_unseen():
    pairs = T.load_date_pairs()
    assert len(pairs.train_source) == 9000 and len(pairs.test_source) == 1000
    train_targets = {t.split("，")[0] for t in pairs.train_target}
    assert not train_targets & {t.split("，")[0] for t in pairs.test_target}
    assert len(set(pairs.train_source + pairs.test_source)) == 10000


def test_load_without_the_file_regenerates_the_same_corpus(monkeypatch, tmp_path):
    expected = T.load_date_pairs()
    monkeypatch.setattr(T, "DATES_PATH", tmp_path / "absent.tsv")
    assert T.load_date_pairs() == expected


def test_corrupt_or_malformed_files_are_refused(monkeypatch, tmp_path):
    corrupt = tmp_path / "dates_en_zh.tsv"
    corrupt.write_bytes(T.DATES_PATH.read_bytes().replace(b"march", b"marsh", 1))
    monkeypatch.setattr(T, "DATES_PATH", corrupt)
    with pytest.raises(ValueError, match="corrupt or was edited: sha256"):
        T.load_date_pairs()
    bad = tmp_path / "other.tsv"
    bad.write_text("split\tenglish\tchinese\ntrain\tmarch 5, 2021\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        T.load_date_pairs(bad)
    bad.write_text("english,chinese\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        T.load_date_pairs(bad)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="UTF-8"):
        T.load_date_pairs(bad)
    bad.write_text("split\tenglish\tchinese\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no pairs"):
        T.load_date_pairs(bad)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: T.chinese_number(0), "1..99"),
        (lambda: T.ordinal_words(32), "1..31"),
        (lambda: T.english_date(datetime.date(2020, 1, 1), "yyyy/dd/mm"), "style"),
        (lambda: T.english_date(datetime.date(2020, 1, 1), "mm/dd/yyyy", weekday=True), "weekday"),
        (lambda: T.generate_date_pairs(10, 10), "test_size"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
