"""WebShop, offline: a shop with WebShop's pages, actions and reward over a generated catalog (or WebShop's
own data files), as a text-action env (envs/textact.py). The catalog, goals and search: envs/webshop_catalog.py.

    envs.make("webshop", 16, seed=0)                        # training goals, 10k generated products
    envs.make("webshop/test", 500, seed=0)                  # the 500 held-out goals: env i plays goal i first
    envs.make("webshop/train", 16, products=1000, max_steps=15, history=4, catalog_seed=0)
    envs.make("webshop/test", 16, data_dir="/data/webshop", products=1_000_000)  # WebShop's files

Pages as in WebShop's text mode: search page -> results (10 per page of the top 50, [next >] / [< prev],
[back to search]) -> item page (title, price, rating, option values as buttons, [description] / [features]
/ [reviews] sub-pages with [< prev] back, [< prev] to the results, [buy now]). Actions are search[<query>]
and click[<button>]; buying ends the episode with the reward, max_steps (15) truncates it with reward 0.
An action that is not available (unknown button, a button of another page, an empty query, a search off
the search page) costs the step and changes nothing. actions(i) lists the current page's commands; on the
search page those are candidate queries made from the instruction (its text without the price clause, and
its nouns), and any other search[<text>] is accepted too:

Free queries: parse_action(text, i) on the search page turns a reply whose action is search[<text>] but
not a listed command into a pending command of env i and returns (len(actions(i)), True); step() resolves
that index to the pending command. Pending commands hold until the next step() (or reset/set_snapshot),
the latest parse per env wins. A search[<text>] string passed to step() works without parse_action. The
episode's commands, free queries included, are strings, so snapshots replay them exactly.

Reward (WebShop's get_reward, reimplemented from its definition): (attributes matched + options matched +
[price <= the goal's bound]) / (goal attributes + goal options + 1) x r_type. An attribute matches when its
token_set_ratio (rapidfuzz, with thefuzz's default processing: lowercase, non-alphanumerics to spaces) with
one of the product's attributes is > 85, or it is a substring of the lowercased title, of the feature bullets
(joined by spaces) or of the description. An option matches when its token_set_ratio with a chosen option
value is > 85, both after colour normalisation (a value containing a colour name becomes the first such
name of COLOURS; substring test, as WebShop's). r_type is 1, or 0.5 when neither the queries are equal, nor the category paths share
>= 2 items, nor the title score (share of the goal title's nouns, with repeats, found among the bought
title's nouns; 0.2 when the goal title has none) exceeds 0.2; then 0.1 when the title score is < 0.1, and 0
when it is 0. success = reward == 1.

Nouns: WebShop tags them with spaCy's en_core_web_sm, which is not installable here. The substitute
(nouns()): lowercase [a-z]+ words of 3+ letters that are not function words, common verbs of instructions,
common adjectives or colour names (NON_NOUNS), and do not end in an adjective / adverb / participle suffix
(-ly, -ful, -ous, -ive, -able, -ible, -less, -ish, -ed, above a length; a few nouns excepted). Brand names
and other unknown words count as nouns, as spaCy mostly tags the capitalised words of product titles.
Product titles are mostly noun compounds, so this keeps close to the tagger; it errs on gerunds (kept).

Differences from WebShop: the generated catalog (see webshop_catalog.py) instead of the 1.18M scraped
products; BM25 (rank_bm25) instead of pyserini's Lucene; text only (no page images); a price range counts
as its lower end; the test split is 500 goals on products no training goal targets.
"""
import re
from collections import Counter

import numpy as np

from .text import _COMMAND_RE, _reply_action, command_format, parse_command  # _reply_action: the reply's raw action
from .textact import TextActionEnv, TextGame, int_options
from .webshop_catalog import Goal, Product, get_shop

PAGE_SIZE = 10
MAX_QUERY_CHARS = 256
MAX_TEXT_CHARS = 300  # description shown on its page
VIEWS = ("description", "features", "reviews")  # an item's sub-pages
OPTIONS = {"products": (10_000, 100, 200_000), "max_steps": (15, 1, 1000), "history": (4, 0, 50),
           "catalog_seed": (0, 0, 2**31 - 1)}
RULES = ("You are shopping online: find and buy the product that fits the instruction. Use search[<query>] on the "
         "search page and click[<button>] to press a [button] of the page: a product, an option, next >, < prev, "
         "back to search, description, features, reviews, buy now.")
COLOURS = ("beige", "black", "blue", "bronze", "brown", "burgundy", "charcoal", "coral", "cream", "gold", "gray", "green",
           "grey", "ivory", "khaki", "lavender", "mauve", "navy", "nude", "olive", "orange", "pink", "plum", "purple", "red",
           "rose", "silver", "tan", "teal", "turquoise", "white", "yellow")
NON_NOUNS = frozenset((
    "and or but nor the for with from into onto over under than then that this these those your you our his her its "
    "their them they she him who what which when where while also some any all each every both not only very too just "
    "are was were has have had can will would should could may must need want looking look find buy get like please "
    "give show make made use used lower less more most price dollars "
    "new old big small large medium little long short high low tall wide narrow thin thick light dark heavy soft hard "
    "easy free great good best top premium extra super ultra mini full double single natural organic pure fresh hot "
    "cold warm cool fast quick slow deep clear matte real true fine nice perfect lightweight waterproof").split()) | frozenset(COLOURS)
SUFFIXES = (("ly", 5), ("ful", 6), ("ous", 6), ("ive", 7), ("able", 6), ("ible", 6), ("less", 6), ("ish", 6), ("ed", 5))
KEEP = frozenset(("family", "assembly", "supply", "jelly", "vegetable", "speed"))
_ACTION = re.compile(r"\s*(search|click)\s*\[(.*)\]\s*", re.IGNORECASE | re.DOTALL)
_PRICE_CLAUSE = re.compile(r",?\s*and price lower than [\d.,]+ dollars\s*$")


# --- reward -----------------------------------------------------------------------------------------
def _fuzz():
    try:
        from rapidfuzz import fuzz, utils
    except ImportError as e:
        raise ImportError("the WebShop env needs rapidfuzz and rank-bm25: pip install -e '.[webshop]'") from e
    return lambda a, b: fuzz.token_set_ratio(a, b, processor=utils.default_process) > 85


def nouns(text: str) -> list[str]:
    """The nouns of `text` by the heuristic in the module docstring (spaCy's tagger substitute), in order."""
    return [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 3 and w not in NON_NOUNS
            and (w in KEEP or not any(w.endswith(s) and len(w) >= n for s, n in SUFFIXES))]


def normalise_colour(value: str) -> str:
    return next((c for c in COLOURS if c in value), value)


def type_match(goal: Goal, product: Product) -> dict:
    """r_type and its parts: query match, category match (>= 2 shared path items), title score."""
    query_match = product.query == goal.query
    path = lambda s: {x.strip() for x in s.split("›")}  # noqa: E731
    category_match = len(path(product.product_category) & path(goal.product_category)) >= 2
    want, have = nouns(goal.name), set(nouns(product.title))
    title_score = sum(w in have for w in set(want)) / len(want) if want else 0.2
    r_type = 1.0 if query_match or category_match or title_score > 0.2 else 0.5
    r_type = 0.0 if title_score == 0 else 0.1 if title_score < 0.1 else r_type
    return {"r_type": r_type, "query_match": query_match, "category_match": category_match, "title_score": title_score}


def reward_parts(goal: Goal, product: Product, chosen) -> dict:
    """WebShop's reward for buying `product` with the option values `chosen`, and its parts."""
    match = _fuzz()
    texts = [product.title.lower(), " ".join(product.features).lower(), product.description.lower()]
    attributes = sum(any(match(p, g) for p in product.attributes) or any(g in t for t in texts) for g in goal.attributes)
    picked = [normalise_colour(v) for v in chosen]
    options = sum(any(match(p, normalise_colour(g)) for p in picked) for g in goal.options)
    price = product.price <= goal.price_upper
    parts = type_match(goal, product)
    total = (attributes + options + price) / (len(goal.attributes) + len(goal.options) + 1) * parts["r_type"]
    return {**parts, "attributes": attributes, "options": options, "price": price, "reward": total}


def reward(goal: Goal, product: Product, chosen) -> float:
    return reward_parts(goal, product, chosen)["reward"]


# --- one shop session --------------------------------------------------------------------------------
def free_query(value) -> str | None:
    """The query of a `search[<text>]` command (whitespace collapsed, lowercase), or None if it is not one."""
    match = _ACTION.fullmatch(value) if isinstance(value, str) else None
    if not match or match.group(1).lower() != "search":
        return None
    query = " ".join(match.group(2).split()).lower()
    return query if 0 < len(query) <= MAX_QUERY_CHARS else None


class WebShopGame(TextGame):
    """One shopping session: the pages, their buttons and the reward at buy."""

    def __init__(self, shop, split: str):
        self.shop, self.split = shop, split

    def reset(self, seed):
        self.goal = self.shop.goal(self.split, seed)
        self.task, self.done, self.success = self.goal.instruction, False, False
        base = _PRICE_CLAUSE.sub("", self.goal.instruction).lower()
        self.queries = tuple(dict.fromkeys(q for q in (" ".join(base.split()), " ".join(dict.fromkeys(nouns(base)))) if q))
        self.view, self.query, self.results, self.page, self.item, self.chosen = "search", "", (), 1, None, {}
        self._render()

    def step(self, command):
        match, query = _ACTION.fullmatch(command), free_query(command)
        label = match.group(2).strip().lower() if match and match.group(1).lower() == "click" else None
        if query and self.view == "search":
            self.view, self.query, self.results, self.page = "results", query, self.shop.search(query), 1
        elif label in self._buttons:
            return self._click(*self._buttons[label])
        else:
            self.observation = f"Not available here: {command[:80]}\n{self._page_text}"
            return 0.0
        self._render()
        return 0.0

    def _click(self, kind, value=None, name=None):
        if kind == "buy":
            product = self.shop.products[self.item]
            r = reward(self.goal, product, self.chosen.values())
            self.done, self.success, self.commands = True, r == 1.0, ()
            self.observation = f"You bought {product.title} ({product.price_text}). Your score: {r:.2f}"
            return r
        if kind == "view":  # search, results, item, description, features, reviews
            self.view = value
        elif kind == "page":
            self.page += value
        elif kind == "product":
            self.view, self.item, self.chosen = "item", value, {}
        else:  # an option value
            self.chosen[name] = value
        self._render()
        return 0.0

    def _render(self):
        """The page's text, its buttons (lowercase label -> click payload) and commands."""
        self._buttons, labels = {}, []

        def button(label, *payload):  # the first button of a label wins (a real option value may be "reviews")
            if label.lower() not in self._buttons:
                self._buttons[label.lower()] = payload
                labels.append(label)
            return f"[{label}]"

        if self.view == "search":
            lines = ["Search page: type a query with search[<query>]."]
        elif self.view == "results":
            pages = self.page_count
            nav = [button("back to search", "view", "search"), self.page > 1 and button("< prev", "page", -1),
                   self.page < pages and button("next >", "page", 1)]
            lines = [" ".join(b for b in nav if b), f"Page {self.page} of {pages} ({len(self.results)} results)"]
            for k in self.results[(self.page - 1) * PAGE_SIZE:self.page * PAGE_SIZE]:
                p = self.shop.products[k]
                lines.append(f"{button(p.asin, 'product', k)} {p.title} | {p.price_text}")
            if not self.results:
                lines.append("No products match this query.")
        else:
            p = self.shop.products[self.item]
            lines = [button("back to search", "view", "search") + " " + button("< prev", "view", "results" if self.view == "item" else "item")]
            if self.view == "item":
                lines += [p.title, f"Price: {p.price_text} | Rating: {p.rating}"]
                for name, values in p.options.items():
                    chosen = f" (chosen: {self.chosen[name]})" if name in self.chosen else ""
                    lines.append(f"{name}: " + " ".join(button(v, "option", v, name) for v in values) + chosen)
                lines.append(" ".join([button(v, "view", v) for v in VIEWS] + [button("buy now", "buy")]))
            elif self.view == "description":
                lines.append(p.description[:MAX_TEXT_CHARS] + ("..." if len(p.description) > MAX_TEXT_CHARS else ""))
            elif self.view == "features":
                lines += list(p.features[:6]) or ["No features listed."]
            else:
                lines += list(p.reviews[:3]) or ["No reviews yet."]
        self.commands = tuple(f"search[{q}]" for q in self.queries) if self.view == "search" else \
            tuple(f"click[{label}]" for label in labels)
        self.observation = self._page_text = "\n".join(lines)

    @property
    def page_count(self) -> int:
        """Pages of the last search's results (at least 1)."""
        return max(1, -(-len(self.results) // PAGE_SIZE))

    @property
    def option_values(self) -> dict:
        """The item page's option values (name -> values) while on it, else {} (benchmarks' rule policy)."""
        return dict(self.shop.products[self.item].options) if self.view == "item" else {}


# --- the batched env ---------------------------------------------------------------------------------
class WebShopEnv(TextActionEnv):
    """N shopping sessions over one shared shop; webshop/train draws a training goal per episode, webshop/test
    plays the held-out goals in order (env i's k-th episode: goal (seed + i + k * num_envs) mod their number)."""

    rules = RULES

    def __init__(self, name, num_envs, seed, options):
        self.split = name.split("/", 1)[1]
        self.shop = get_shop(options["products"], options["catalog_seed"], options["data_dir"])
        super().__init__(name, num_envs, seed, options)
        self._pending = [None] * self.num_envs  # free search command per env, until the next step

    @property
    def vocabulary(self) -> tuple:
        """Command-shaped phrases of the fixed buttons, the commonest option values and product types (the
        built-in model's tokenizer is trained on them, so that they are whole tokens)."""
        values = Counter(v for p in self.shop.products for vs in p.options.values() for v in vs)
        queries = Counter(p.query for p in self.shop.products)
        return (*(f"click[{b}]" for b in ("buy now", "next >", "< prev", "back to search", *VIEWS)),
                *(f"click[{v}]" for v, _ in values.most_common(500)), *(f"search[{q}]" for q, _ in queries.most_common(200)))

    def new_game(self):
        return WebShopGame(self.shop, self.split)

    def episode_seed(self, i, k):
        return self.base_seed + i + k * self.num_envs if self.split == "test" else super().episode_seed(i, k)

    def reset(self, *, seed=None, options=None):
        self._pending = [None] * self.num_envs
        return super().reset(seed=seed, options=options)

    def step(self, actions):
        try:
            return super().step(actions)
        finally:
            self._pending = [None] * self.num_envs

    def set_snapshot(self, snapshot):
        super().set_snapshot(snapshot)
        self._pending = [None] * self.num_envs

    def _command(self, i, action):
        pending = self._pending[i]
        if pending is not None and isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_)) \
                and action == len(self.games[i].commands):
            return pending
        return super()._command(i, action)

    def parse_action(self, text, i: int = 0) -> tuple[int, bool]:
        """A listed command -> its index; on the search page another search[<text>] -> len(actions(i)), a
        pending command that step() resolves (see the module docstring); else (-1, False). Never raises."""
        game = self.games[i]
        self._pending[i] = None
        index, valid = parse_command(text, game.commands)
        if valid or game.view != "search":
            return index, valid
        query = free_query(_reply_action(text, _COMMAND_RE))
        if query is None:
            return -1, False
        self._pending[i] = f"search[{query}]"
        return len(game.commands), True

    def _prompt_text(self, i):
        """Rules, instruction, the last `history` commands, the page, its commands (WebShop's text mode)."""
        game, played = self.games[i], self._played[i][-self.history:] if self.history else []
        lines = [self.rules, f"Instruction: {game.task}"]
        if played:
            lines.append("Your last actions: " + "; ".join(c if len(c) <= 90 else c[:87] + "..." for c, _ in played))
        lines += [f"Now: {game.observation}", command_format(game.commands)]
        if game.view == "search" and not game.done:
            lines.append("On the search page any other search[<query>] works too.")
        return "\n".join(lines)


def resolve_options(name, options):
    out = int_options(name, options, OPTIONS, other=("data_dir",))
    data_dir = options.get("data_dir", "")
    if not isinstance(data_dir, str):
        raise ValueError(f"{name}: option data_dir must be a folder path (str), got {data_dir!r}")
    out["data_dir"] = data_dir
    return out


def maker(split):
    def make(num_envs, seed=0, backend="cpp", **options):
        """WebShop has one backend; `backend` is accepted for envs.make's signature. `image_size` is ignored:
        the prompts are text. Options: products, max_steps, history, catalog_seed, data_dir (WebShop's files)."""
        name = f"webshop/{split}"
        return WebShopEnv(name, num_envs, seed, resolve_options(name, options))
    return make


make_train, make_test = maker("train"), maker("test")
