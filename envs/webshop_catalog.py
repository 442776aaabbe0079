"""The shop behind envs/webshop.py: products, goal instructions and BM25 search, generated from a seed or
loaded from WebShop's data files. Built once per process per (data_dir, seed, products) and shared.

Generated catalog: five categories as in WebShop (fashion, beauty, grocery, electronics, furniture), eight
product types each. A product has a brand (a made-up word), a title (brand, who it is for, 0-2 of its
attributes, a type noun, a use), 2-5 attributes from its category's vocabulary, 1-2 option sets (size,
colour, flavour, ...) with 2-5 values each, a price drawn log-uniformly in its type's range, a rating, a
description, feature bullets and reviews that mention only its own attributes. `query` is the product type
and `product_category` a breadcrumb "root › section › type" (WebShop: the search query the page was scraped
for, and the category path); both feed the reward's type match.

Goals are sampled from products as WebShop sampled its goals: a target product, 1-3 of its attributes,
one value of each of its options, and a price bound drawn like WebShop's (two of the first four multiples
of ten above the price, the larger one; none when fewer than two are below 1000). The instruction names the
product type, the attributes, the options and the bound, e.g. "i need a paraben free shampoo with scent:
lavender, and size: 3.4 fl oz, and price lower than 30.00 dollars". Held-out goals: the first
min(500, products // 2) products each give one fixed test goal; training goals are drawn per episode from
the other products, so no test product is ever a training target.

Real data (data_dir): WebShop's files as its setup script downloads them, items_shuffle[_1000].json (a list
of products: asin, name, full_description, small_description, pricing "$a" or "$a$b", customization_options
{name: [{value, image}]}, category, query, product_category), items_ins_v2[_1000].json ({asin: {attributes,
instruction, instruction_attributes}}) and, optional, items_human_ins.json ({asin: [{instruction,
instruction_attributes, instruction_options}]}). Goals: the human instructions when that file is there, else
each product's synthetic instruction with one sampled option combination; shuffled with the seed, the first
min(500, goals // 2) are the test split. A price range counts as its lower end (WebShop draws a price in it).

Search ranks with rank_bm25's BM25Okapi over title + attributes + option values (WebShop's Lucene index holds
title, description, first bullet and options), lowercased [a-z0-9]+ tokens. Only products containing a query
token can score above 0: the scores are summed over each query token's postings with BM25Okapi's idf, k1, b
and document lengths (the numbers BM25Okapi.get_scores gives, without its loop over every product per token);
results are the top 50 by score, ties by catalog order.
"""
import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TOP_N = 50  # results per search (WebShop's top_n)
MAX_TEST_GOALS = 500
NO_BOUND = 1e6  # price_upper of a goal without a price bound
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Product:
    asin: str
    title: str
    query: str  # the product type
    product_category: str  # "root › section › type"
    attributes: tuple
    options: dict  # option name -> tuple of values
    price: float
    price_text: str
    rating: str
    description: str
    features: tuple  # bullet points
    reviews: tuple


@dataclass(frozen=True)
class Goal:
    asin: str  # the product it was sampled from
    instruction: str
    attributes: tuple
    options: tuple  # target option values
    price_upper: float
    query: str  # the target's query, category path and title: the reward's type match
    product_category: str
    name: str


# --- vocabulary: category -> (root, attributes, option pools, types, uses, blurb); a type is
# (section, query, title nouns, option names, price range)
CATEGORIES = {
    "fashion": ("clothing, shoes & jewelry",
                ("machine washable", "lightweight", "breathable", "non slip", "quick drying", "slim fit", "long sleeve",
                 "button closure", "elastic waistband", "water resistant", "rubber sole", "soft cotton", "wide leg",
                 "high waist", "moisture wicking", "relaxed fit"),
                {"size": ("small", "medium", "large", "x-large", "xx-large"), "shoe size": ("6", "7", "8", "9", "10", "11", "12"),
                 "color": ("black", "white", "navy", "grey", "red", "olive", "beige", "pink", "burgundy", "khaki")},
                (("women › shoes", "running shoes", ("Running Shoes", "Athletic Sneakers"), ("shoe size", "color"), (25, 90)),
                 ("men › shoes", "hiking boots", ("Hiking Boots", "Trail Boots"), ("shoe size", "color"), (40, 150)),
                 ("women › clothing", "yoga pants", ("Yoga Pants", "Workout Leggings"), ("size", "color"), (15, 45)),
                 ("men › clothing", "t-shirt", ("T-Shirt", "Crew Neck Tee"), ("size", "color"), (10, 30)),
                 ("women › clothing", "maxi dress", ("Maxi Dress", "Summer Dress"), ("size", "color"), (20, 60)),
                 ("men › clothing", "hoodie", ("Hoodie", "Pullover Sweatshirt"), ("size", "color"), (20, 55)),
                 ("men › clothing", "cargo shorts", ("Cargo Shorts", "Hiking Shorts"), ("size", "color"), (15, 40)),
                 ("women › outerwear", "rain jacket", ("Rain Jacket", "Windbreaker Jacket"), ("size", "color"), (30, 90))),
                ("for Gym", "for Travel", "for Everyday Wear", "for Outdoor"), "Made for comfort, day after day."),
    "beauty": ("beauty & personal care",
               ("paraben free", "sulfate free", "long lasting", "cruelty free", "natural ingredients", "dermatologist tested",
                "travel size", "fragrance free", "vegan formula", "dry skin", "hyaluronic acid", "tea tree oil",
                "easy to apply", "alcohol free", "anti aging"),
               {"size": ("1.7 fl oz", "3.4 fl oz", "6.8 fl oz", "12 fl oz", "33.8 fl oz"),
                "scent": ("lavender", "vanilla", "coconut", "unscented", "citrus", "eucalyptus"),
                "color": ("ruby red", "nude", "coral", "plum", "berry", "mauve"), "length": ("14 inch", "20 inch", "26 inch")},
               (("hair care › shampoo", "shampoo", ("Shampoo", "Clarifying Shampoo"), ("size", "scent"), (8, 30)),
                ("hair care › conditioner", "conditioner", ("Conditioner", "Hair Conditioner"), ("size", "scent"), (8, 30)),
                ("skin care › face", "face moisturizer", ("Face Moisturizer", "Face Cream"), ("size",), (12, 50)),
                ("makeup › lips", "lipstick", ("Lipstick", "Matte Lip Color"), ("color",), (6, 25)),
                ("makeup › nails", "nail polish", ("Nail Polish", "Nail Lacquer"), ("color",), (5, 15)),
                ("fragrance › women", "perfume", ("Eau de Parfum", "Perfume Spray"), ("size",), (25, 110)),
                ("skin care › body", "body lotion", ("Body Lotion", "Body Cream"), ("size", "scent"), (7, 25)),
                ("hair care › styling", "hair extensions", ("Clip in Hair Extensions", "Hair Extensions"), ("color", "length"),
                 (20, 80))),
               ("for Women", "for Men", "for All Skin Types", "Salon Formula"), "A daily essential for your routine."),
    "grocery": ("grocery & gourmet food",
                ("gluten free", "non gmo", "sugar free", "low carb", "keto friendly", "high protein", "usda organic",
                 "kosher certified", "dairy free", "individually wrapped", "ready to eat", "plant based", "low sodium",
                 "caffeine free"),
                {"flavor": ("original", "sea salt", "honey", "vanilla", "mocha", "peppermint", "smoked", "cinnamon", "teriyaki"),
                 "size": ("6 count", "12 count", "30 count", "48 count")},
                (("beverages › coffee", "coffee beans", ("Whole Bean Coffee", "Coffee Beans"), ("flavor", "size"), (9, 30)),
                 ("beverages › tea", "green tea", ("Green Tea Bags", "Green Tea"), ("flavor", "size"), (5, 20)),
                 ("snacks › bars", "protein bars", ("Protein Bars", "Snack Bars"), ("flavor", "size"), (12, 35)),
                 ("snacks › meat", "beef jerky", ("Beef Jerky", "Jerky Strips"), ("flavor", "size"), (8, 30)),
                 ("pantry › oils", "olive oil", ("Extra Virgin Olive Oil", "Olive Oil"), ("size",), (8, 35)),
                 ("snacks › candy", "dark chocolate", ("Dark Chocolate Bar", "Dark Chocolate"), ("flavor", "size"), (5, 25)),
                 ("snacks › nuts", "trail mix", ("Trail Mix", "Nut Mix"), ("flavor", "size"), (7, 25)),
                 ("pantry › sauces", "hot sauce", ("Hot Sauce", "Pepper Sauce"), ("flavor", "size"), (4, 15))),
                ("Gift Box", "Family Pack", "Snack Pack", "Value Pack"), "Stock your pantry with a favourite."),
    "electronics": ("electronics",
                    ("noise cancelling", "fast charging", "water resistant", "long battery life", "easy to install",
                     "high definition", "wireless charging", "hands free", "plug and play", "dual band", "shock absorbing",
                     "usb c", "heavy duty", "ultra thin"),
                    {"color": ("black", "white", "silver", "blue", "rose gold", "green"),
                     "cable length": ("3 ft", "6 ft", "10 ft", "15 ft"), "phone model": ("iphone 15", "galaxy s24", "pixel 8"),
                     "capacity": ("5000mah", "10000mah", "26800mah"), "switch": ("red switch", "blue switch", "brown switch")},
                    (("audio › headphones", "wireless earbuds", ("Wireless Earbuds", "Bluetooth Earphones"), ("color",), (20, 120)),
                     ("audio › speakers", "bluetooth speaker", ("Bluetooth Speaker", "Portable Speaker"), ("color",), (20, 100)),
                     ("accessories › chargers", "phone charger", ("Phone Charger", "Wall Charger"), ("color", "cable length"),
                      (10, 35)),
                     ("accessories › cables", "hdmi cable", ("HDMI Cable", "HDMI Cord"), ("cable length",), (6, 25)),
                     ("accessories › cases", "phone case", ("Phone Case", "Protective Cover"), ("color", "phone model"), (8, 30)),
                     ("accessories › power", "power bank", ("Power Bank", "Portable Battery"), ("color", "capacity"), (15, 60)),
                     ("computers › peripherals", "gaming mouse", ("Gaming Mouse", "Computer Mouse"), ("color",), (15, 70)),
                     ("computers › peripherals", "mechanical keyboard", ("Mechanical Keyboard", "Gaming Keyboard"),
                      ("color", "switch"), (30, 130))),
                    ("for Home", "for Office", "for Travel", "2024 Model"), "Built for everyday use."),
    "furniture": ("home & kitchen",
                  ("easy assembly", "solid wood", "space saving", "heavy duty", "mid century", "storage space",
                   "lumbar support", "metal frame", "adjustable height", "living room", "scratch resistant", "rustic style",
                   "tufted upholstery"),
                  {"color": ("white", "black", "espresso", "walnut", "grey", "natural", "oak"),
                   "bed size": ("twin", "full", "queen", "king"), "size": ("3 tier", "4 tier", "5 tier"), "set": ("2 pcs", "4 pcs")},
                  (("living room › tables", "coffee table", ("Coffee Table", "Cocktail Table"), ("color",), (50, 250)),
                   ("office › chairs", "office chair", ("Office Chair", "Desk Chair"), ("color",), (60, 300)),
                   ("bedroom › beds", "bed frame", ("Platform Bed Frame", "Bed Frame"), ("color", "bed size"), (90, 400)),
                   ("bedroom › nightstands", "nightstand", ("Nightstand", "Bedside Table"), ("color",), (30, 150)),
                   ("living room › storage", "bookshelf", ("Bookshelf", "Bookcase"), ("color", "size"), (40, 200)),
                   ("kitchen › seating", "bar stools", ("Bar Stools", "Counter Stools"), ("color", "set"), (50, 250)),
                   ("entryway › storage", "shoe rack", ("Shoe Rack", "Shoe Organizer"), ("color", "size"), (20, 90)),
                   ("living room › seating", "storage ottoman", ("Storage Ottoman", "Ottoman Bench"), ("color",), (30, 150))),
                  ("for Bedroom", "for Home Office", "for Small Spaces", "for Apartment"), "Furniture that fits your home."),
}
SYLLABLES = ("ka", "lo", "mi", "ve", "ra", "no", "zu", "ti", "sa", "ben", "dor", "fel", "gri", "hal", "jun", "kor", "lum",
             "mar", "nix", "pol", "quin", "ros", "tal", "vin", "wex", "yor", "zen")
FEATURE_LINES = ("made to last", "quality you can feel", "a customer favourite", "designed with care")
REVIEW_LINES = ("great value for the price", "exactly as described", "would buy again", "arrived quickly and works well",
                "good, but not quite what I expected")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def join_words(words) -> str:
    """'a', 'a and b', 'a, b and c'."""
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# --- the generated catalog -------------------------------------------------------------------------
def generate_products(n: int, seed: int) -> list[Product]:
    """n products, the same for the same (n, seed); product k does not depend on n."""
    rng = random.Random(seed)
    brands = sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize() for _ in range(400)})
    kinds = [(cat, t) for cat, spec in CATEGORIES.items() for t in spec[3]]
    products, asins = [], set()
    for _ in range(n):
        (root, vocab, pools, _, uses, blurb), (section, query, nouns, option_names, (lo, hi)) = \
            CATEGORIES[(pick := rng.choice(kinds))[0]], pick[1]
        brand, noun = rng.choice(brands), rng.choice(nouns)
        attributes = tuple(rng.sample(vocab, rng.randint(2, 5)))
        who = {"women": ["Women's"], "men": ["Men's"]}.get(section.split(" › ")[0], [])
        shown = [a.title() for a in attributes[:rng.randint(0, 2)]]
        title = " ".join([brand, *who, *shown, noun] + ([rng.choice(uses)] if rng.random() < 0.5 else []))
        options = {}
        for name in option_names:
            keep = set(rng.sample(pools[name], rng.randint(2, min(5, len(pools[name])))))
            options[name] = tuple(v for v in pools[name] if v in keep)
        price = math.floor(lo * (hi / lo) ** rng.random()) + 0.99
        stars = [rng.randint(2, 5) for _ in range(rng.randint(1, 3))]
        asin = "B0" + "".join(rng.choices(ALNUM, k=8))
        while asin in asins:
            asin = "B0" + "".join(rng.choices(ALNUM, k=8))
        asins.add(asin)
        products.append(Product(
            asin=asin, title=title, query=query, product_category=f"{root} › {section} › {query}", attributes=attributes,
            options=options, price=price, price_text=f"${price:.2f}", rating=f"{sum(stars) / len(stars):.1f}",
            description=f"The {brand} {noun.lower()}: {join_words(attributes)}. {blurb}",
            features=tuple(f"{a.upper()}: {rng.choice(FEATURE_LINES)}" for a in attributes),
            reviews=tuple(f"{s} stars: {rng.choice(REVIEW_LINES)}" for s in stars)))
    return products


def price_bound(price: float, rng: random.Random) -> tuple[float, str]:
    """(price_upper, instruction suffix): the larger of two of the first four multiples of ten above the price."""
    bounds = [10.0 * k for k in range(1, 100) if 10.0 * k > price][:4]
    if len(bounds) < 2:
        return NO_BOUND, ""
    upper = max(rng.sample(bounds, 2))
    return upper, f", and price lower than {upper:.2f} dollars"


def sample_goal(product: Product, rng: random.Random) -> Goal:
    """A goal for `product`: 1-3 of its attributes, a value of each option, a price bound, an instruction."""
    attributes = tuple(rng.sample(product.attributes, min(len(product.attributes), rng.choice((1, 2, 2, 3)))))
    options = {name: rng.choice(values) for name, values in sorted(product.options.items())}
    upper, price_text = price_bound(product.price, rng)
    plural = product.query.endswith("s") and not product.query.endswith("ss")
    lead = rng.choice(("i need", "i am looking for", "find me", "i want to buy"))
    phrase = rng.choice((f"{join_words(attributes)} {product.query}", f"{product.query} that is {join_words(attributes)}"))
    article = "" if plural else "an " if phrase[0] in "aeiou" else "a "
    option_text = " with " + ", and ".join(f"{k}: {v}" for k, v in options.items()) if options else ""
    return Goal(asin=product.asin, instruction=f"{lead} {article}{phrase}{option_text}{price_text}",
                attributes=attributes, options=tuple(options.values()), price_upper=upper, query=product.query,
                product_category=product.product_category, name=product.title)


# --- WebShop's data files --------------------------------------------------------------------------
def _data_file(root: Path, stem: str, required: bool = True):
    for name in (f"{stem}.json", f"{stem}_1000.json"):
        if (root / name).is_file():
            return json.loads((root / name).read_text())
    if required:
        raise ValueError(f"webshop data_dir {root} has no {stem}.json or {stem}_1000.json")
    return None


def load_products(data_dir: str, n: int) -> tuple[list[Product], dict, dict | None]:
    """The first n distinct products of WebShop's items_shuffle file (with their items_ins_v2 entries), and
    the attribute and human-instruction tables ({asin: ...})."""
    root = Path(data_dir)
    items, ins, human = _data_file(root, "items_shuffle"), _data_file(root, "items_ins_v2"), \
        _data_file(root, "items_human_ins", required=False)
    products, seen = [], set()
    for item in items[:n]:
        asin = str(item.get("asin", ""))
        if asin in seen or asin == "nan" or not asin or len(asin) > 10:
            continue
        seen.add(asin)
        prices = [float(re.sub(r"[^\d.]", "", p) or 0) for p in str(item.get("pricing") or "").split("$")[1:]][:2] or [100.0]
        options = {}
        for name, values in (item.get("customization_options") or {}).items():
            if values:
                options[name.lower()] = tuple(dict.fromkeys(v["value"].strip().replace("/", " | ").lower() for v in values))
        bullets = item.get("small_description") or []
        products.append(Product(
            asin=asin, title=item.get("name") or "", query=str(item.get("query") or "").lower().strip(),
            product_category=item.get("product_category") or "", attributes=tuple(ins.get(asin, {}).get("attributes") or ()),
            options=options, price=prices[0], price_text=" to ".join(f"${p:.2f}" for p in prices), rating="N.A.",
            description=item.get("full_description") or "", features=tuple(bullets if isinstance(bullets, list) else [bullets]),
            reviews=()))
    return products, ins, human


def data_goals(products: list[Product], ins: dict, human: dict | None, seed: int) -> list[Goal]:
    """Every goal of the data (human instructions, else synthetic ones), shuffled with the seed."""
    rng, goals = random.Random(seed), []
    for p in products:
        found = [(h["instruction"].strip("."), h["instruction_attributes"], h.get("instruction_options") or [])
                 for h in (human or {}).get(p.asin, ())]
        if human is None and (ins.get(p.asin) or {}).get("instruction"):
            options = {k: rng.choice(v) for k, v in sorted(p.options.items())}
            text = " with " + ", and ".join(f"{k}: {v}" for k, v in options.items()) if options else ""
            found = [(ins[p.asin]["instruction"] + text, ins[p.asin].get("instruction_attributes") or [], list(options.values()))]
        for instruction, attributes, options in found:
            if attributes:
                upper, price_text = price_bound(p.price, rng)
                goals.append(Goal(asin=p.asin, instruction=instruction + price_text, attributes=tuple(attributes),
                                  options=tuple(options), price_upper=upper, query=p.query,
                                  product_category=p.product_category, name=p.title))
    rng.shuffle(goals)
    return goals


# --- the shop: products + search + goals -----------------------------------------------------------
class Shop:
    """Products, their BM25 index and the goal splits. goal("train" | "test", seed) -> Goal."""

    def __init__(self, products: list[Product], test_goals: list[Goal], train_goal):
        from rank_bm25 import BM25Okapi  # the webshop extra: pip install -e '.[webshop]'
        self.products, self.test_goals, self._train_goal = products, test_goals, train_goal
        self.index = {p.asin: k for k, p in enumerate(products)}
        docs = [tokens(" ".join([p.title, *p.attributes, *(v for vs in p.options.values() for v in vs)])) for p in products]
        self.bm25 = bm25 = BM25Okapi(docs)
        postings = {}  # term -> ([product], [count])
        for k, freqs in enumerate(bm25.doc_freqs):
            for term, count in freqs.items():
                ks, counts = postings.setdefault(term, ([], []))
                ks.append(k)
                counts.append(count)
        norm = bm25.k1 * (1 - bm25.b + bm25.b * np.asarray(bm25.doc_len, np.float64) / bm25.avgdl)
        self.postings = {}  # term -> (products, their BM25 term weights)
        for term, (ks, counts) in postings.items():
            ks, tf = np.asarray(ks, np.int64), np.asarray(counts, np.float64)
            self.postings[term] = ks, bm25.idf[term] * tf * (bm25.k1 + 1) / (tf + norm[ks])
        self._results = {}  # query -> results, bounded

    def goal(self, split: str, seed: int) -> Goal:
        return self.test_goals[seed % len(self.test_goals)] if split == "test" else self._train_goal(seed)

    def search(self, query: str) -> tuple[int, ...]:
        """Indices of the top TOP_N products for `query` by BM25 score (> 0), ties by catalog order."""
        if query not in self._results:
            if len(self._results) >= 65_536:
                self._results.clear()
            scores = np.zeros(len(self.products))
            for term in tokens(query):  # a repeated token counts again, as in get_scores
                if term in self.postings:
                    ks, weights = self.postings[term]
                    scores[ks] += weights
            top = np.argsort(-scores, kind="stable")[:TOP_N]
            self._results[query] = tuple(int(k) for k in top if scores[k] > 0)
        return self._results[query]


_SHOPS = {}


def get_shop(products: int, seed: int, data_dir: str = "") -> Shop:
    """The process-wide shop for these settings, built on first use."""
    key = (str(Path(data_dir).resolve()) if data_dir else "", seed, products)
    if key not in _SHOPS:
        if data_dir:
            items, ins, human = load_products(data_dir, products)
            goals = data_goals(items, ins, human, seed)
            if len(goals) < 2:
                raise ValueError(f"webshop data_dir {data_dir}: {len(goals)} goal(s) found, need at least 2")
            n_test = min(MAX_TEST_GOALS, len(goals) // 2)
            test, train = goals[:n_test], goals[n_test:]
            _SHOPS[key] = Shop(items, test, lambda s: train[s % len(train)])
        else:
            items = generate_products(products, seed)
            n_test = min(MAX_TEST_GOALS, products // 2)
            test = [sample_goal(items[k], random.Random(seed * 1_000_003 + k)) for k in range(n_test)]

            def train_goal(s):
                rng = random.Random(s)
                return sample_goal(items[rng.randrange(n_test, len(items))], rng)
            _SHOPS[key] = Shop(items, test, train_goal)
    return _SHOPS[key]
