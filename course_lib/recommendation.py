"""Next-item recommendation data: a generated interaction log, MovieLens parsers, the leave-one-out split, HR@k / NDCG@k and two baselines.

Everything here is NumPy; only :func:`load_movielens` touches Keras (``keras.utils.get_file``).

**Items and padding.** A log holds, for each user, the items they consumed in time order,
as item ids ``1..num_items``; id ``0`` is reserved for padding and is never an item.
Arrays of item metadata are indexed by item id, so their entry 0 is a placeholder (-1).

**The generated log** (:func:`generate_log`, the offline default). Its process, step by step:

1. *Genres and titles.* The ``num_items`` items are split evenly, at random, into
   ``num_genres`` latent genres. In each genre about ``series_fraction`` of the items are
   grouped into **series** of 3 to 8 episodes (episode 1, 2, ...); every other item is a
   stand-alone title. Inside a genre, the titles (stand-alone items and whole series) get a
   long-tailed, Zipf-like popularity: the title of rank r has weight ``1 / r**zipf_exponent``.
2. *Users.* Each user has two genre tastes drawn from a Dirichlet(``taste_concentration``)
   distribution, a start taste and an end taste; along the user's history the taste
   **drifts** linearly from the first to the second. History lengths are uniform in
   ``[min_length, max_length]``.
3. *Each step* of a user's history is one of three events:

   - **repeat** (probability ``p_repeat``, once the history is non-empty): one of the last
     5 items again, uniformly;
   - **continue a series** (probability ``p_continue``, if the user has a series in
     progress): the next episode of the series touched most recently (or, with
     probability 0.3, of another series in progress, uniformly), so other items may come
     between two episodes;
   - otherwise a **fresh pick**: a genre from the current taste, then a title from that
     genre's popularity. A stand-alone title is consumed; a series not yet started starts
     at episode 1; a series in progress gives its next episode; a finished series gives
     one of its episodes again.

   After each episode the series is abandoned with probability ``p_abandon``; after its
   last episode it is finished.

So the next item depends on more than popularity (genres, tastes) and on more than the
last item alone: which series are in progress, and the user's taste, are visible only in
the longer history. The log can show that the order of a history matters, that a
sequence encoder beats most-popular and item-to-item baselines on such data, and that
the full-ranking and sampled metric protocols disagree. It cannot stand for absolute
numbers on real data: its sizes, its tails and its sequential structure are choices
made here, and a model ranked first on it need not be first on MovieLens.

**MovieLens** (:func:`load_movielens`, :func:`parse_movielens_100k`,
:func:`parse_movielens_1m`) is the real-data path, for where there is a network (Colab):
it is downloaded from GroupLens on request only, never by default and never in the tests.
Its licence does not allow redistribution, so it is never shipped with the course; the
tests write tiny files in its exact formats.

**Protocol and metrics.** :func:`leave_one_out` keeps, per user in time order, the last
item for test and the one before for validation. :func:`rank_of_target` ranks a target
among **all** items (ties counted pessimistically); :func:`hit_rate_at_k` and
:func:`ndcg_at_k` follow from the rank; :func:`sampled_metrics` is the protocol of many
papers (the target among 100 items sampled uniformly from those the user has not
interacted with), which inflates the numbers and can reorder models.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from course_lib import _validation as check
from course_lib.datasets import cache_file, read_cache, write_cache

#: The GroupLens archives of :func:`load_movielens`.
MOVIELENS_URLS = {
    "100k": "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    "1m": "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
}
#: The ratings file inside each archive.
MOVIELENS_FILES = {"100k": "u.data", "1m": "ratings.dat"}
#: How many of the most recent items a *repeat* event draws from.
REPEAT_WINDOW = 5
#: The range of series lengths (episodes), both ends included.
SERIES_LENGTHS = (3, 8)
_CACHE_FORMAT = 1


# --------------------------------------------------------------------------- the log


@dataclasses.dataclass(frozen=True, eq=False)
class InteractionLog:
    """Per-user, time-ordered item sequences and what is known about the items.

    ``sequences[u]`` is user ``u``'s history, an int64 array of item ids in ``1..num_items``
    (oldest first; 0 is padding and never occurs here). The item metadata arrays have
    ``num_items + 1`` entries, indexed by item id (entry 0 is -1 or 0): ``item_genre`` (the
    latent genre), ``item_series`` (the series, -1 for a stand-alone item),
    ``item_position_in_series`` (episode number from 1, 0 for a stand-alone item) and
    ``item_popularity`` (the generator's weight of the item's title; 0 at index 0). They are
    None for MovieLens, which has ``item_ids`` (the original id of each new id, 0 at index 0)
    and ``user_ids`` instead. ``cache_file`` is the ``.npz`` read or written, if any.
    """

    sequences: tuple
    num_items: int
    name: str
    item_genre: np.ndarray | None = None
    item_series: np.ndarray | None = None
    item_position_in_series: np.ndarray | None = None
    item_popularity: np.ndarray | None = None
    item_ids: np.ndarray | None = None
    user_ids: np.ndarray | None = None
    cache_file: Path | None = None

    @property
    def num_users(self) -> int:
        """How many users (sequences) the log has."""
        return len(self.sequences)

    @property
    def num_events(self) -> int:
        """How many interactions in all."""
        return int(sum(len(s) for s in self.sequences))

    def lengths(self) -> np.ndarray:
        """The length of each user's history, int64 ``(num_users,)``."""
        return np.array([len(s) for s in self.sequences], dtype="int64")

    def item_counts(self) -> np.ndarray:
        """How often each item occurs, int64 ``(num_items + 1,)`` (entry 0, padding, is 0)."""
        return np.bincount(np.concatenate(self.sequences), minlength=self.num_items + 1).astype("int64")

    @property
    def num_interacted_items(self) -> int:
        """How many distinct items occur at least once."""
        return int((self.item_counts()[1:] > 0).sum())

    def __repr__(self):
        return (
            f"InteractionLog({self.name!r}: {self.num_users} users, {self.num_items} items, {self.num_events} events)"
        )


def _check_probability(owner, name, value, high=1.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= high:
        raise ValueError(f"{owner}: `{name}` must be a number in [0, {high}], got {value!r}")


def _build_catalogue(rng, num_items, num_genres, series_fraction, zipf_exponent):
    """Item metadata and, per genre, its titles (arrays of item ids, a series in episode order) and title weights."""
    genre = np.full(num_items + 1, -1, dtype="int64")
    series = np.full(num_items + 1, -1, dtype="int64")
    position = np.zeros(num_items + 1, dtype="int64")
    popularity = np.zeros(num_items + 1, dtype="float64")
    genre[1 + rng.permutation(num_items)] = np.arange(num_items) % num_genres
    titles, weights, episodes = [], [], []  # per genre: list of item-id arrays, their cumulative weights
    for g in range(num_genres):
        items = np.flatnonzero(genre == g)
        rng.shuffle(items)
        budget, start, genre_titles = int(round(series_fraction * len(items))), 0, []
        while budget - start >= SERIES_LENGTHS[0]:
            size = min(int(rng.integers(SERIES_LENGTHS[0], SERIES_LENGTHS[1] + 1)), budget - start)
            episode_ids = np.sort(items[start:start + size])
            series[episode_ids] = len(episodes)
            position[episode_ids] = np.arange(1, size + 1)
            episodes.append(episode_ids)
            genre_titles.append(episode_ids)
            start += size
        genre_titles += [items[i:i + 1] for i in range(start, len(items))]
        order = rng.permutation(len(genre_titles))
        genre_titles = [genre_titles[i] for i in order]
        w = 1.0 / np.arange(1, len(genre_titles) + 1) ** zipf_exponent
        for title, weight in zip(genre_titles, w):
            popularity[title] = weight
        titles.append(genre_titles)
        weights.append(np.cumsum(w) / w.sum())
    return genre, series, position, popularity, titles, weights, episodes


def _simulate_user(rng, length, taste_start, taste_end, titles, cum_weights, episodes, series_of, settings):
    p_repeat, p_continue, p_abandon = settings["p_repeat"], settings["p_continue"], settings["p_abandon"]
    history = np.empty(length, dtype="int64")
    progress: dict = {}  # series -> episodes seen so far (the series is in progress while 0 < seen < len)
    open_series: list = []  # series in progress, most recently touched last
    u = rng.random((length, 4))
    for t in range(length):
        if t and u[t, 0] < p_repeat:
            recent = history[max(0, t - REPEAT_WINDOW):t]
            history[t] = recent[int(u[t, 1] * len(recent))]
            continue
        if open_series and u[t, 0] < p_repeat + p_continue:
            s = open_series[-1] if u[t, 1] < 0.7 or len(open_series) == 1 else open_series[int(u[t, 2] * len(open_series))]
            item = episodes[s][progress[s]]
        else:
            mix = t / max(length - 1, 1)
            taste = (1.0 - mix) * taste_start + mix * taste_end
            g = min(int(np.searchsorted(np.cumsum(taste), u[t, 1] * taste.sum())), len(titles) - 1)
            title = titles[g][min(int(np.searchsorted(cum_weights[g], u[t, 2])), len(titles[g]) - 1)]
            if len(title) == 1 and series_of[title[0]] < 0:
                item = title[0]
            else:
                s = int(series_of[title[0]])
                seen = progress.get(s, 0)
                item = title[seen] if seen < len(title) else title[int(u[t, 3] * len(title))]
        history[t] = item
        s = int(series_of[item])
        if s >= 0:
            seen = progress.get(s, 0)
            if seen < len(episodes[s]) and item == episodes[s][seen]:  # the next episode, not a rewatch
                progress[s] = seen + 1
                if s in open_series:
                    open_series.remove(s)
                if progress[s] < len(episodes[s]):
                    if rng.random() < p_abandon:
                        progress[s] = len(episodes[s])  # abandoned: a later pick gives a random episode
                    else:
                        open_series.append(s)
            elif s in open_series:  # touched again: now the most recent
                open_series.remove(s)
                open_series.append(s)
    return history


def generate_log(
    num_users: int = 1200,
    num_items: int = 600,
    seed: int = 0,
    cache_dir=None,
    *,
    num_genres: int = 6,
    min_length: int = 10,
    max_length: int = 50,
    series_fraction: float = 0.5,
    zipf_exponent: float = 1.0,
    taste_concentration: float = 0.3,
    p_repeat: float = 0.1,
    p_continue: float = 0.45,
    p_abandon: float = 0.1,
) -> InteractionLog:
    """A synthetic interaction log with genres, series, drifting tastes and repeats (see the module docstring).

    The same arguments give the same log. It is cached as ``.npz`` in ``cache_dir``
    (default ``$XDG_CACHE_HOME/course_lib`` or ``~/.cache/course_lib``), written atomically;
    the file name holds the format version and a hash of the settings. The defaults give
    about 36,000 events, generated in well under a second.

    Args:
        num_users, num_items: the sizes; ``num_items`` at least ``10 * num_genres``.
        seed: the generator's seed.
        cache_dir: where to cache; ``False`` to neither read nor write a cache.
        num_genres: how many latent genres.
        min_length, max_length: each history's length is uniform in this range (both included).
        series_fraction: the fraction of each genre's items grouped into series.
        zipf_exponent: the title of popularity rank r in its genre has weight ``r ** -zipf_exponent``.
        taste_concentration: the Dirichlet concentration of the tastes (small: few genres per user).
        p_repeat, p_continue: the probabilities of a repeat and of continuing a series at a step.
        p_abandon: the probability of abandoning a series after each of its episodes.

    Returns:
        An :class:`InteractionLog` with the item metadata filled in.

    Raises:
        ValueError: a bad argument, or a corrupt cache file (the message names it).

    Example:
        >>> log = generate_log(num_users=50, num_items=120, seed=1, cache_dir=False)
        >>> log.num_users, log.num_items, int(log.lengths().min()) >= 10, int(log.lengths().max()) <= 50
        (50, 120, True, True)
        >>> int(log.sequences[0].min()) >= 1 and int(log.sequences[0].max()) <= 120
        True
    """
    owner = "generate_log"
    check.integer(owner, "num_users", num_users, 1)
    check.integer(owner, "num_genres", num_genres, 1)
    check.integer(owner, "num_items", num_items, 10 * num_genres)
    check.integer(owner, "seed", seed, 0)
    check.integer(owner, "min_length", min_length, 2)
    check.integer(owner, "max_length", max_length, min_length)
    _check_probability(owner, "series_fraction", series_fraction)
    _check_probability(owner, "p_repeat", p_repeat)
    _check_probability(owner, "p_continue", p_continue, 1.0 - p_repeat)
    _check_probability(owner, "p_abandon", p_abandon)
    for name, value in (("zipf_exponent", zipf_exponent), ("taste_concentration", taste_concentration)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 100.0:
            raise ValueError(f"{owner}: `{name}` must be a positive number below 100, got {value!r}")
    settings = dict(
        num_users=num_users, num_items=num_items, seed=seed, num_genres=num_genres, min_length=min_length,
        max_length=max_length, series_fraction=float(series_fraction), zipf_exponent=float(zipf_exponent),
        taste_concentration=float(taste_concentration), p_repeat=float(p_repeat), p_continue=float(p_continue),
        p_abandon=float(p_abandon),
    )
    text = json.dumps(settings, sort_keys=True)
    key = hashlib.sha1(text.encode()).hexdigest()[:12]
    path = cache_file(cache_dir, f"interactions_v{_CACHE_FORMAT}_{key}.npz")
    names = ("items", "lengths", "item_genre", "item_series", "item_position_in_series", "item_popularity")
    if path is not None and path.is_file():
        def read(cached):
            arrays = {name: cached[name] for name in names}
            if str(cached["settings"]) != text:
                raise ValueError("its contents do not match the settings it was written for")
            if arrays["lengths"].sum() != len(arrays["items"]) or len(arrays["lengths"]) != num_users:
                raise ValueError("its lengths do not match its items")
            return arrays

        arrays = read_cache(owner, path, read)
    else:
        rng = np.random.default_rng(seed)
        genre, series, position, popularity, titles, weights, episodes = _build_catalogue(
            rng, num_items, num_genres, series_fraction, zipf_exponent
        )
        lengths = rng.integers(min_length, max_length + 1, size=num_users)
        tastes = rng.dirichlet(np.full(num_genres, float(taste_concentration)), size=(num_users, 2))
        sequences = [
            _simulate_user(rng, int(lengths[u]), tastes[u, 0], tastes[u, 1], titles, weights, episodes, series, settings)
            for u in range(num_users)
        ]
        arrays = dict(
            items=np.concatenate(sequences), lengths=lengths.astype("int64"), item_genre=genre, item_series=series,
            item_position_in_series=position, item_popularity=popularity,
        )
        if path is not None:
            write_cache(path, settings=np.array(text), **arrays)
    bounds = np.concatenate([[0], np.cumsum(arrays["lengths"])])
    sequences = tuple(arrays["items"][a:b].astype("int64") for a, b in zip(bounds[:-1], bounds[1:]))
    return InteractionLog(
        sequences=sequences,
        num_items=num_items,
        name=f"generated (seed {seed})",
        item_genre=arrays["item_genre"].astype("int64"),
        item_series=arrays["item_series"].astype("int64"),
        item_position_in_series=arrays["item_position_in_series"].astype("int64"),
        item_popularity=arrays["item_popularity"].astype("float64"),
        cache_file=path,
    )


# --------------------------------------------------------------------------- MovieLens


def _log_from_events(users, items, timestamps, name) -> InteractionLog:
    """Users and items re-indexed (items to 1..n by original id), each user's events sorted stably by time."""
    users, items, timestamps = (np.asarray(a, dtype="int64") for a in (users, items, timestamps))
    item_ids, new_items = np.unique(items, return_inverse=True)
    user_ids, new_users = np.unique(users, return_inverse=True)
    order = np.lexsort((timestamps, new_users))  # by user, then time; lexsort is stable, so ties keep file order
    sorted_items = new_items[order] + 1
    bounds = np.concatenate([[0], np.cumsum(np.bincount(new_users, minlength=len(user_ids)))])
    sequences = tuple(sorted_items[a:b].astype("int64") for a, b in zip(bounds[:-1], bounds[1:]))
    return InteractionLog(
        sequences=sequences, num_items=len(item_ids), name=name,
        item_ids=np.concatenate([[0], item_ids]).astype("int64"), user_ids=user_ids.astype("int64"),
    )


def _parse_ratings(path, separator, owner, fields):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{owner}: no ratings file at {path}")
    users, items, stamps = [], [], []
    with open(path, encoding="latin-1") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split(separator)
            try:
                if len(parts) != 4:
                    raise ValueError
                user, item, rating, stamp = (int(p) for p in parts)
                if user < 1 or item < 1 or not 1 <= rating <= 5 or stamp < 0:
                    raise ValueError
            except ValueError:
                raise ValueError(f"{owner}: {path}, line {number}: expected {fields}, got {line.rstrip()!r}") from None
            users.append(user)
            items.append(item)
            stamps.append(stamp)
    if not users:
        raise ValueError(f"{owner}: {path} holds no ratings")
    return users, items, stamps


def parse_movielens_100k(path) -> InteractionLog:
    """MovieLens 100K's ``u.data`` (``user \\t item \\t rating \\t timestamp``) as an :class:`InteractionLog`.

    Every rating counts as an interaction (the rating value is not used, as in SASRec);
    items are re-indexed to ``1..n`` in the order of their original ids (``item_ids`` maps
    back), each user's events are sorted by timestamp, ties kept in file order.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a malformed line (the message names the file and the line number).
    """
    users, items, stamps = _parse_ratings(path, "\t", "parse_movielens_100k", "user<TAB>item<TAB>rating<TAB>timestamp")
    return _log_from_events(users, items, stamps, "MovieLens 100K")


def parse_movielens_1m(path) -> InteractionLog:
    """MovieLens 1M's ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``) as an :class:`InteractionLog`.

    The same rules as :func:`parse_movielens_100k`.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a malformed line (the message names the file and the line number).
    """
    users, items, stamps = _parse_ratings(path, "::", "parse_movielens_1m", "UserID::MovieID::Rating::Timestamp")
    return _log_from_events(users, items, stamps, "MovieLens 1M")


def load_movielens(variant: str = "1m", cache_dir=None) -> InteractionLog:
    """Download MovieLens 100K or 1M from GroupLens (once, with ``keras.utils.get_file``) and parse it.

    Needs a network on first use (Colab); nothing calls this by default, and MovieLens is
    never shipped with the course (its licence does not allow redistribution).

    Args:
        variant: ``"100k"`` or ``"1m"``.
        cache_dir: passed to ``keras.utils.get_file`` (None: Keras' default, ``~/.keras``).

    Returns:
        The :class:`InteractionLog` of :func:`parse_movielens_100k` or :func:`parse_movielens_1m`.
    """
    if variant not in MOVIELENS_URLS:
        raise ValueError(f"load_movielens: `variant` must be one of {tuple(MOVIELENS_URLS)}, got {variant!r}")
    import keras

    url = MOVIELENS_URLS[variant]
    where = Path(keras.utils.get_file(fname=url.rsplit("/", 1)[1], origin=url, extract=True, cache_dir=cache_dir))
    folder = where if where.is_dir() else where.parent
    found = sorted(folder.rglob(MOVIELENS_FILES[variant]))
    if not found:
        raise FileNotFoundError(f"load_movielens: no {MOVIELENS_FILES[variant]} under {folder} after extracting {url}")
    parse = parse_movielens_100k if variant == "100k" else parse_movielens_1m
    return parse(found[0])


# --------------------------------------------------------------------------- leave one out


@dataclasses.dataclass(frozen=True, eq=False)
class LeaveOneOut:
    """The leave-one-out split: per kept user, the last item is the test target, the one before the validation target.

    Inputs are int64 arrays ``(num_users, max_length)``, **left-padded** with 0 (the most
    recent item is in the last column; a history longer than ``max_length`` keeps its most
    recent items):

    - ``train_sequences``: each user's training part (all but the last two items), unpadded
      and untruncated, for training and for count baselines;
    - ``train_histories``: the training part padded, the input for **validation** (``val_targets``);
    - ``test_histories``: the training part plus the validation item, the input for **test**
      (``test_targets``).

    ``users`` are the indices (into the log's sequences) of the kept users;
    ``num_dropped`` users had fewer than ``min_events`` events. For
    :func:`sampled_metrics`, which must know every item a user interacted with, pass the
    untruncated ``train_sequences`` (validation) or ``test_sequences`` (test), not the
    padded inputs, which keep only the last ``max_length`` items.
    """

    train_sequences: tuple
    train_histories: np.ndarray
    val_targets: np.ndarray
    test_histories: np.ndarray
    test_targets: np.ndarray
    users: np.ndarray
    num_items: int
    max_length: int
    num_dropped: int

    @property
    def val_histories(self) -> np.ndarray:
        """The input for validation: the same as ``train_histories``."""
        return self.train_histories

    @property
    def test_sequences(self) -> tuple:
        """Each user's training part plus the validation item, unpadded: everything before the test target."""
        return tuple(np.append(seq, target) for seq, target in zip(self.train_sequences, self.val_targets))

    @property
    def num_users(self) -> int:
        """How many users were kept."""
        return len(self.users)


def pad_left(sequences, max_length: int) -> np.ndarray:
    """Sequences as an int64 array ``(n, max_length)``, left-padded with 0, each keeping its last ``max_length`` items.

    Example:
        >>> pad_left([np.array([3, 1, 4]), np.array([1, 5, 9, 2, 6])], 4)
        array([[0, 3, 1, 4],
               [5, 9, 2, 6]])
    """
    check.integer("pad_left", "max_length", max_length, 1)
    out = np.zeros((len(sequences), max_length), dtype="int64")
    for i, seq in enumerate(sequences):
        tail = np.asarray(seq, dtype="int64")[-max_length:]
        if len(tail):
            out[i, max_length - len(tail):] = tail
    return out


def leave_one_out(log: InteractionLog, min_events: int = 3, max_length: int = 50) -> LeaveOneOut:
    """Split each user's history in time order: last item for test, the one before for validation, the rest for training.

    Args:
        log: an :class:`InteractionLog`.
        min_events: users with fewer events are dropped (and counted in ``num_dropped``); at
            least 3, so every kept user has a training item.
        max_length: the width of the padded inputs (the most recent items are kept).

    Returns:
        A :class:`LeaveOneOut`.

    Example:
        >>> log = InteractionLog(sequences=(np.array([5, 2, 7, 1]), np.array([3, 4])), num_items=7, name="toy")
        >>> split = leave_one_out(log, max_length=3)
        >>> split.train_histories, split.val_targets, split.test_histories, split.test_targets, split.num_dropped
        (array([[0, 5, 2]]), array([7]), array([[5, 2, 7]]), array([1]), 1)
    """
    if not isinstance(log, InteractionLog):
        raise ValueError(f"leave_one_out: `log` must be an InteractionLog, got {type(log).__name__}")
    check.integer("leave_one_out", "min_events", min_events, 3)
    check.integer("leave_one_out", "max_length", max_length, 1)
    users = np.array([u for u, s in enumerate(log.sequences) if len(s) >= min_events], dtype="int64")
    if not len(users):
        raise ValueError(f"leave_one_out: no user of {log!r} has at least `min_events`={min_events} events")
    kept = [np.asarray(log.sequences[u], dtype="int64") for u in users]
    return LeaveOneOut(
        train_sequences=tuple(s[:-2] for s in kept),
        train_histories=pad_left([s[:-2] for s in kept], max_length),
        val_targets=np.array([s[-2] for s in kept], dtype="int64"),
        test_histories=pad_left([s[:-1] for s in kept], max_length),
        test_targets=np.array([s[-1] for s in kept], dtype="int64"),
        users=users,
        num_items=int(log.num_items),
        max_length=int(max_length),
        num_dropped=int(log.num_users - len(users)),
    )


# --------------------------------------------------------------------------- metrics


def _check_scores_targets(owner, scores, targets):
    scores = np.asarray(scores)
    targets = np.asarray(targets)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"{owner}: `scores` must be 2-D (n, num_items + 1) with column 0 for padding, got shape {scores.shape}")
    if not np.issubdtype(scores.dtype, np.number) or np.isnan(scores[:, 1:]).any():
        raise ValueError(f"{owner}: `scores` must be numbers without NaN")
    if targets.ndim != 1 or len(targets) != len(scores):
        raise ValueError(f"{owner}: `targets` must be 1-D with one id per row of `scores` ({len(scores)}), got shape {targets.shape}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"{owner}: `targets` must be integer item ids, got dtype {targets.dtype}")
    num_items = scores.shape[1] - 1
    bad = (targets < 1) | (targets > num_items)
    if bad.any():
        raise ValueError(
            f"{owner}: `targets` holds unknown item ids (0 is padding; items are 1..{num_items}), "
            f"e.g. {int(targets[bad][0])} in row {int(np.flatnonzero(bad)[0])}"
        )
    return scores, targets.astype("int64")


def _check_k(owner, k, num_candidates, what="the catalogue"):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{owner}: `k` must be a positive integer, got {k!r}")
    if k > num_candidates:
        raise ValueError(f"{owner}: `k`={k} is larger than {what} ({num_candidates} candidates)")


def rank_of_target(scores, targets) -> np.ndarray:
    """The rank (1 = best) of each target among all items, by score; column 0 (padding) is ignored.

    Ties are counted **pessimistically**: an item with the same score as the target is
    ranked above it, so a constant score gives every target the last rank, and no model
    gains from ties. Items of the user's history are not removed (users repeat items here).

    Args:
        scores: ``(n, num_items + 1)`` numbers, higher = more likely next.
        targets: ``(n,)`` item ids in ``1..num_items``.

    Returns:
        int64 ``(n,)`` ranks in ``1..num_items``.

    Example:
        >>> rank_of_target(np.array([[0.0, 0.1, 0.7, 0.2], [9.0, 0.5, 0.5, 0.1]]), np.array([3, 2]))
        array([2, 2])
    """
    scores, targets = _check_scores_targets("rank_of_target", scores, targets)
    items = scores[:, 1:]
    target_scores = scores[np.arange(len(scores)), targets][:, None]
    return (items >= target_scores).sum(axis=1).astype("int64")  # the target itself counts once: rank from 1


def _hit(ranks, k):
    return float(np.mean(ranks <= k))


def _ndcg(ranks, k):
    return float(np.mean(np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0)))


def hit_rate_at_k(scores, targets, k: int = 10) -> float:
    """HR@k: the fraction of targets ranked in the top ``k`` of all items (:func:`rank_of_target`).

    Example:
        >>> hit_rate_at_k(np.array([[0.0, 0.1, 0.7, 0.2], [0.0, 0.5, 0.4, 0.1]]), np.array([3, 3]), k=2)
        0.5
    """
    scores, targets = _check_scores_targets("hit_rate_at_k", scores, targets)
    _check_k("hit_rate_at_k", k, scores.shape[1] - 1)
    return _hit(rank_of_target(scores, targets), k)


def ndcg_at_k(scores, targets, k: int = 10) -> float:
    """NDCG@k with one relevant item: the mean of ``1 / log2(rank + 1)`` over targets with rank <= k, else 0.

    Example:
        >>> round(ndcg_at_k(np.array([[0.0, 0.1, 0.7, 0.2], [0.0, 0.5, 0.4, 0.1]]), np.array([3, 1]), k=2), 4)
        0.8155
    """
    scores, targets = _check_scores_targets("ndcg_at_k", scores, targets)
    _check_k("ndcg_at_k", k, scores.shape[1] - 1)
    return _ndcg(rank_of_target(scores, targets), k)


def full_ranking_metrics(scores, targets, k: int = 10) -> dict:
    """``{"HR@k": ..., "NDCG@k": ...}`` against all items, as :func:`sampled_metrics` returns them."""
    scores, targets = _check_scores_targets("full_ranking_metrics", scores, targets)
    _check_k("full_ranking_metrics", k, scores.shape[1] - 1)
    ranks = rank_of_target(scores, targets)
    return {f"HR@{k}": _hit(ranks, k), f"NDCG@{k}": _ndcg(ranks, k)}


def _as_sequences(owner, name, histories, num_items=None):
    """A list of int64 arrays without padding, from a padded 2-D array (0 = padding) or a sequence of arrays."""
    if isinstance(histories, np.ndarray) and histories.ndim == 2:
        rows = [row[row != 0] for row in histories]
    elif isinstance(histories, np.ndarray) and histories.ndim != 1 or isinstance(histories, (str, bytes)):
        raise ValueError(f"{owner}: `{name}` must be a padded 2-D array or a sequence of 1-D arrays, got shape {np.shape(histories)}")
    else:
        rows = [np.asarray(row) for row in histories]
    out = []
    for i, row in enumerate(rows):
        if row.ndim != 1 or (row.size and not np.issubdtype(row.dtype, np.integer)):
            raise ValueError(f"{owner}: `{name}` row {i} must be a 1-D array of integer item ids")
        row = row.astype("int64")
        if num_items is not None and row.size and (row.min() < 1 or row.max() > num_items):
            raise ValueError(f"{owner}: `{name}` row {i} holds unknown item ids (items are 1..{num_items}; 0 only as padding)")
        out.append(row)
    return out


def sampled_metrics(scores, targets, histories, num_negatives: int = 100, k: int = 10, seed: int = 0) -> dict:
    """HR@k and NDCG@k with the target ranked among ``num_negatives`` sampled items, the protocol of many papers.

    For each row, ``num_negatives`` items are drawn uniformly without replacement from
    those the user has not interacted with (not in ``histories[i]``, not the target);
    the target is ranked among itself and them, ties pessimistically. The numbers are
    much higher than with :func:`full_ranking_metrics` and can order models differently.

    Args:
        scores: ``(n, num_items + 1)``, as for :func:`rank_of_target`.
        targets: ``(n,)`` item ids.
        histories: every item each user interacted with before the target: a left- or
            right-padded int array (0 = padding) or a sequence of 1-D arrays (for a
            :class:`LeaveOneOut`, its untruncated ``train_sequences`` or ``test_sequences``);
            none may be empty.
        num_negatives: how many negatives per row.
        k: the cut-off, at most ``num_negatives + 1``.
        seed: the seed of the draws (the same seed gives the same negatives for every model).

    Returns:
        ``{"HR@k": ..., "NDCG@k": ...}``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> scores = rng.random((4, 201))
        >>> targets = np.array([1, 2, 3, 4])
        >>> scores[np.arange(4), targets] = 2.0  # each target scored above every item
        >>> sampled_metrics(scores, targets, np.array([[0, 5], [6, 7], [0, 8], [9, 10]]))
        {'HR@10': 1.0, 'NDCG@10': 1.0}
    """
    owner = "sampled_metrics"
    scores, targets = _check_scores_targets(owner, scores, targets)
    num_items = scores.shape[1] - 1
    check.integer(owner, "num_negatives", num_negatives, 1)
    check.integer(owner, "seed", seed, 0)
    _check_k(owner, k, num_negatives + 1, "the candidates (`num_negatives` + 1)")
    rows = _as_sequences(owner, "histories", histories, num_items)
    if len(rows) != len(targets):
        raise ValueError(f"{owner}: `histories` must have one row per target ({len(targets)}), got {len(rows)}")
    rng = np.random.default_rng(seed)
    ranks = np.empty(len(targets), dtype="int64")
    for i, (row, target) in enumerate(zip(rows, targets)):
        if not row.size:
            raise ValueError(f"{owner}: `histories` row {i} is empty; every evaluated user needs a history")
        allowed = np.ones(num_items + 1, dtype=bool)
        allowed[0] = False
        allowed[row] = False
        allowed[target] = False
        pool = np.flatnonzero(allowed)
        if len(pool) < num_negatives:
            raise ValueError(f"{owner}: row {i} leaves only {len(pool)} items to sample, fewer than `num_negatives`={num_negatives}")
        negatives = rng.choice(pool, size=num_negatives, replace=False)
        ranks[i] = 1 + int((scores[i, negatives] >= scores[i, target]).sum())
    return {f"HR@{k}": _hit(ranks, k), f"NDCG@{k}": _ndcg(ranks, k)}


# --------------------------------------------------------------------------- baselines


def popularity_scores(train_histories, num_items: int, num_rows: int | None = None) -> np.ndarray:
    """Most-popular: each item's count in the training histories (column 0, padding, gets ``-inf``).

    Args:
        train_histories: padded int array (0 = padding) or a sequence of 1-D item-id arrays.
        num_items: the catalogue size.
        num_rows: if given, the scores repeated for that many users, ``(num_rows, num_items + 1)``.

    Returns:
        float64 ``(num_items + 1,)``, or ``(num_rows, num_items + 1)``.

    Example:
        >>> popularity_scores([np.array([1, 2, 2]), np.array([2, 3])], num_items=3)
        array([-inf,   1.,   3.,   1.])
    """
    check.integer("popularity_scores", "num_items", num_items, 1)
    rows = _as_sequences("popularity_scores", "train_histories", train_histories, num_items)
    events = np.concatenate(rows) if rows else np.zeros(0, dtype="int64")
    if not events.size:
        raise ValueError("popularity_scores: `train_histories` is empty: no training events to count")
    scores = np.bincount(events, minlength=num_items + 1).astype("float64")
    scores[0] = -np.inf
    if num_rows is None:
        return scores
    check.integer("popularity_scores", "num_rows", num_rows, 1)
    return np.tile(scores, (num_rows, 1))


def markov_scores(train_sequences, last_items, num_items: int, smoothing: float = 1.0) -> np.ndarray:
    """First-order Markov: how often each item followed the user's last item in training, smoothed with popularity.

    ``score[i, j] = count(last_items[i] -> j) + smoothing * popularity(j)``, where the counts
    are of consecutive pairs in ``train_sequences`` and ``popularity`` is the training count
    divided by the largest (in (0, 1]): with ``smoothing=1`` it only breaks ties among
    items with equal counts, and a last item never followed by anything falls back to
    most-popular.

    Args:
        train_sequences: the training sequences (padded int array, 0 = padding, or a sequence of arrays).
        last_items: ``(n,)`` each user's most recent item, in ``1..num_items``.
        num_items: the catalogue size.
        smoothing: the weight of popularity, >= 0.

    Returns:
        float64 ``(n, num_items + 1)``, column 0 ``-inf``.

    Example:
        >>> markov_scores([np.array([1, 2, 3]), np.array([1, 2, 2])], np.array([1, 2]), num_items=3).round(2)
        array([[-inf, 0.67, 3.  , 0.33],
               [-inf, 0.67, 2.  , 1.33]])
    """
    owner = "markov_scores"
    check.integer(owner, "num_items", num_items, 1)
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not smoothing >= 0:
        raise ValueError(f"{owner}: `smoothing` must be a number >= 0, got {smoothing!r}")
    rows = _as_sequences(owner, "train_sequences", train_sequences, num_items)
    last_items = np.asarray(last_items)
    if last_items.ndim != 1 or not np.issubdtype(last_items.dtype, np.integer):
        raise ValueError(f"{owner}: `last_items` must be a 1-D array of item ids, got shape {last_items.shape}")
    if last_items.size and (last_items.min() < 1 or last_items.max() > num_items):
        raise ValueError(f"{owner}: `last_items` holds unknown item ids (0 means an empty history; items are 1..{num_items})")
    events = np.concatenate(rows) if rows else np.zeros(0, dtype="int64")
    if not events.size:
        raise ValueError(f"{owner}: `train_sequences` is empty: no training events to count")
    pairs = [(row[:-1], row[1:]) for row in rows if len(row) > 1]
    counts = np.zeros((num_items + 1, num_items + 1), dtype="float64")
    if pairs:
        np.add.at(counts, (np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs])), 1.0)
    popularity = np.bincount(events, minlength=num_items + 1).astype("float64")
    scores = counts[last_items] + smoothing * popularity / popularity.max()
    scores[:, 0] = -np.inf
    return scores
