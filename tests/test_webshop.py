"""WebShop offline: the reward against hand-computed cases, the catalog and goals, pages, search, invalid
and free actions, snapshots, WebShop's data layout, and a vldac run."""
import json
import random
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("rank_bm25")
pytest.importorskip("rapidfuzz")
import envs  # noqa: E402
from envs.webshop import _fuzz, nouns, reward_parts  # noqa: E402
from envs.webshop_catalog import CATEGORIES, NO_BOUND, Goal, Product, Shop, generate_products, get_shop, tokens  # noqa: E402

SMALL = dict(products=400)
SHOES = Product(
    asin="B0SHOE0001", title="Acme Lightweight Running Shoes", query="running shoes",
    product_category="clothing, shoes & jewelry › women › shoes › running shoes",
    attributes=("lightweight", "breathable mesh", "non slip"), options={"color": ("black", "light blue"), "shoe size": ("7", "8")},
    price=45.99, price_text="$45.99", rating="4.0", description="The Acme running shoes: made to last.",
    features=("RUBBER SOLE: grips well",), reviews=())
RACK = Product(
    asin="B0RACK0001", title="Zed Shoes Rack Organizer", query="shoe rack",
    product_category="home & kitchen › entryway › storage › shoe rack", attributes=("heavy duty",), options={},
    price=19.99, price_text="$19.99", rating="4.0", description="A rack.", features=(), reviews=())
OIL = Product(
    asin="B0OIL00001", title="Bensa Extra Virgin Olive Oil", query="olive oil",
    product_category="grocery & gourmet food › pantry › oils › olive oil", attributes=("lightweight", "breathable"),
    options={"color": ("black",)}, price=9.99, price_text="$9.99", rating="4.0", description="Oil.", features=(), reviews=())


def goal(**changes):
    fields = dict(asin=SHOES.asin, instruction="i need lightweight breathable running shoes", attributes=("lightweight", "breathable"),
                  options=("black", "8"), price_upper=50.0, query=SHOES.query, product_category=SHOES.product_category,
                  name=SHOES.title)
    return Goal(**{**fields, **changes})


def test_reward_matches_hand_computed_cases():
    r = lambda g, p, chosen: reward_parts(g, p, chosen)["reward"]  # noqa: E731
    assert r(goal(), SHOES, ["black", "8"]) == 1.0  # 2 attributes ("breathable" in "breathable mesh") + 2 options + price, / 5
    assert r(goal(), SHOES, ["light blue", "8"]) == 4 / 5  # wrong colour
    assert r(goal(), SHOES, []) == 3 / 5  # no option chosen
    assert r(goal(price_upper=40.0), SHOES, ["black", "8"]) == 4 / 5  # over budget
    assert r(goal(attributes=("lightweight", "water resistant", "rubber sole")), SHOES, ["black", "8"]) == 5 / 6  # features text
    assert r(goal(attributes=("lightweight", "water resistant", "made to last", "quick drying")), SHOES, ["black", "8"]) == 5 / 7
    assert r(goal(attributes=("lightweight", "shoes rubber")), SHOES, ["black", "8"]) == 4 / 5  # title, bullets: apart
    parts = reward_parts(goal(), OIL, ["black"])  # wrong type: no noun of the goal's title in the oil's
    assert parts["title_score"] == 0 and parts["r_type"] == 0 and parts["reward"] == 0
    parts = reward_parts(goal(name="Acme Trail Running Shoes Gym Sneakers"), RACK, [])  # 1 of 6 nouns, other query / path
    assert parts["title_score"] == 1 / 6 and parts["r_type"] == 0.5 and parts["reward"] == 1 / 5 * 0.5  # only the price
    parts = reward_parts(goal(query="trail shoes"), SHOES, ["black", "8"])  # same path and title: still r_type 1
    assert not parts["query_match"] and parts["category_match"] and parts["reward"] == 1.0
    # options after colour normalisation: "dark blue" and "light blue" both become "blue"
    assert reward_parts(goal(options=("dark blue",)), SHOES, ["light blue"])["options"] == 1
    assert not _fuzz()("dark blue", "light blue")
    assert _fuzz()("x-large", "large") and not _fuzz()("6 count", "12 count")  # token_set_ratio > 85, as WebShop's thefuzz


def test_noun_heuristic():
    assert nouns("Nike Men's Lightweight Breathable Running Shoes, Black") == ["nike", "men", "running", "shoes"]
    assert nouns("i need a long lasting 6.76 fl oz bottle of l'eau d'issey") == ["lasting", "bottle", "eau", "issey"]
    assert nouns("Portable Wireless Speaker, Easy Assembly, Family Size") == ["speaker", "assembly", "family", "size"]


def test_catalog_is_seeded_and_its_texts_name_only_their_own_attributes():
    products = generate_products(300, 1)
    assert products == generate_products(300, 1) and products[:100] == generate_products(100, 1)
    assert products[0] != generate_products(1, 2)[0] and len({p.asin for p in products}) == 300
    assert {p.product_category.split(" › ")[0] for p in products} == {spec[0] for spec in CATEGORIES.values()}
    match = _fuzz()
    vocab = {spec[0]: spec[1] for spec in CATEGORIES.values()}
    for p in products:
        assert p.price > 0 and 2 <= len(p.attributes) <= 5 and all(len(set(v)) == len(v) >= 2 for v in p.options.values())
        text = " ".join([p.title, *p.features, p.description]).lower()
        for a in set(vocab[p.product_category.split(" › ")[0]]) - set(p.attributes):
            assert not any(match(b, a) for b in p.attributes) and a not in text, (p, a)


def test_goals_are_sampled_from_products_like_webshops():
    shop = get_shop(400, 0)
    assert len(shop.test_goals) == 200 and get_shop(400, 0) is shop  # min(500, products // 2), built once
    test_asins = {g.asin for g in shop.test_goals}
    assert test_asins == {p.asin for p in shop.products[:200]}
    for seed in range(300):
        g = shop.goal("train", seed)
        p = shop.products[shop.index[g.asin]]
        assert g.asin not in test_asins and g == shop.goal("train", seed)
        assert 1 <= len(g.attributes) <= 3 and set(g.attributes) <= set(p.attributes)
        assert len(g.options) == len(p.options) and all(v in vs for v, vs in zip(g.options, dict(sorted(p.options.items())).values()))
        if g.price_upper == NO_BOUND:
            assert "price" not in g.instruction and p.price > 970
        else:
            multiples = [10.0 * k for k in range(1, 100) if 10 * k > p.price][:4]
            assert g.price_upper in multiples[1:] and g.instruction.endswith(f"price lower than {g.price_upper:.2f} dollars")
        assert all(w in g.instruction for w in (p.query, *g.attributes, *g.options))
        assert reward_parts(g, p, g.options)["reward"] == 1.0  # the target with the named options is a success


def play(env, commands, i=0):
    """Step env i through commands (strings); the (reward, terminated, infos) of the last step."""
    for c in commands:
        assert c in env.actions(i) or c.startswith("search["), (c, env.actions(i))
        _, rewards, terminated, _, infos = env.step([c if k == i else 0 for k in range(env.num_envs)])
    return rewards[i], terminated[i], infos


def test_pages_and_pagination():
    env = envs.make("webshop", 1, seed=0, max_steps=100, **SMALL)
    env.reset()
    assert all(c.startswith("search[") for c in env.actions(0)) and env.observations[0].startswith("Search page")
    play(env, ["search[black]"])
    results = env.games[0].results
    assert len(results) > 20 and env.observations[0].splitlines()[1] == f"Page 1 of {-(-len(results) // 10)} ({len(results)} results)"
    first = env.observations[0]
    asins = [f"click[{env.games[0].shop.products[k].asin}]" for k in results[:10]]
    assert env.actions(0) == ("click[back to search]", "click[next >]", *asins)
    play(env, ["click[next >]"])
    assert env.actions(0)[:3] == ("click[back to search]", "click[< prev]", "click[next >]") and "Page 2 of" in env.observations[0]
    play(env, ["click[< prev]"])
    assert env.observations[0] == first
    play(env, ["click[next >]"] * (env.games[0].page_count - 1))
    assert "click[next >]" not in env.actions(0) and len(env.actions(0)) == 2 + len(results[(env.games[0].page_count - 1) * 10:])
    play(env, ["click[< prev]"] * (env.games[0].page_count - 1) + [asins[0]])
    p = env.games[0].shop.products[results[0]]
    assert env.observations[0].splitlines()[1:3] == [p.title, f"Price: {p.price_text} | Rating: {p.rating}"]
    values = [v for vs in p.options.values() for v in vs]
    assert env.actions(0) == ("click[back to search]", "click[< prev]", *(f"click[{v}]" for v in values), "click[description]",
                              "click[features]", "click[reviews]", "click[buy now]")
    item = env.observations[0]
    play(env, [f"click[{values[-1]}]"])
    assert f"(chosen: {values[-1]})" in env.observations[0]
    for sub, text in (("description", p.description), ("features", p.features[0]), ("reviews", p.reviews[0])):
        play(env, [f"click[{sub}]"])
        assert text in env.observations[0] and env.actions(0) == ("click[back to search]", "click[< prev]")
        play(env, ["click[< prev]"])
    assert env.observations[0] != item and f"(chosen: {values[-1]})" in env.observations[0]  # the choice is kept
    play(env, ["click[< prev]"])
    assert env.observations[0] == first
    play(env, ["click[back to search]"])
    assert env.observations[0].startswith("Search page") and env.games[0].view == "search"


def test_search_is_deterministic_bm25():
    a, b = Shop(generate_products(300, 5), [], None), Shop(generate_products(300, 5), [], None)
    for query in ("running shoes", "gluten free protein bars", "i need a black office chair with lumbar support", "zzz qqq"):
        scores = a.bm25.get_scores(tokens(query))  # the reference: rank_bm25 over every product
        order = sorted(range(300), key=lambda k: (-scores[k], k))
        assert a.search(query) == b.search(query) == tuple(k for k in order[:50] if scores[k] > 0)
    assert a.search("zzz qqq") == () and a.products[a.search("hdmi cable")[0]].query == "hdmi cable"
    env = envs.make("webshop", 1, **SMALL)
    env.reset()
    play(env, ["search[zzz qqq]"])
    assert "No products match" in env.observations[0] and env.actions(0) == ("click[back to search]",)


def test_invalid_actions_cost_a_step_and_change_nothing():
    env = envs.make("webshop", 1, seed=3, max_steps=7, **SMALL)
    env.reset()
    search_page = env.prompt(0)[1]
    for reply in ("garbage", "", None, 123, b"{}", "{" * 100_000, '{"action": "click[buy now]"}', '{"action": "search[]"}',
                  '{"action": "search[   ]"}', '{"action": "search[' + "x" * 300 + ']"}', '{"action": "click[next >]"}',
                  "x" * 1_000_000 + '{"action": "search[shoes]"}'):
        assert env.parse_action(reply, 0) == (-1, False), reply[:40] if isinstance(reply, str) else reply
    commands = env.actions(0)
    for command in ("click[buy now]", "search[]", "search[ ]", "look around", "x" * 10_000):
        _, r, term, trunc, _ = env.step([command])
        assert r[0] == 0 and not term[0] and env.actions(0) == commands
        assert env.observations[0].startswith("Not available here:") and env.observations[0].endswith("Search page: type a query with search[<query>].")
    play(env, ["search[shoes]"])
    results_page = env.observations[0]
    _, r, term, trunc, infos = env.step(["click[nothing]"])  # the 7th step: truncated, reward 0
    assert trunc[0] and not term[0] and infos["episode"]["r"][0] == 0 and infos["episode"]["l"][0] == 7
    assert f"Now: Not available here: click[nothing]\n{results_page}\n" in env.prompt(0, final=True)[1]
    assert env.prompt(0)[1] != search_page and env.games[0].view == "search"  # the next goal, on its search page
    with pytest.raises(IndexError):
        env.step([len(env.actions(0))])  # a free-query index without a pending query


def test_free_query_through_parse_action_and_step():
    env, twin = envs.make("webshop", 2, seed=1, **SMALL), envs.make("webshop", 2, seed=1, **SMALL)
    env.reset()
    twin.reset()
    n = len(env.actions(0))
    assert env.parse_action(json.dumps({"thoughts": "", "action": env.actions(0)[1]}), 0) == (1, True)  # a listed query
    assert env.parse_action('{"thoughts": "...", "action": "search[Red Wine]"}', 0) == (n, True)
    assert env.parse_action('```json\n{"thoughts": "", "action": "Search[  Blue   Running Shoes ]"}\n```', 0) == (n, True)  # latest wins
    env.step([n, 0])
    twin.step(["search[blue running shoes]", 0])
    assert env.observations == twin.observations and env.games[0].query == "blue running shoes"
    assert "search[blue running shoes]" in env.prompt(0)[1]  # in the history
    assert env.parse_action('{"action": "search[more shoes]"}', 0) == (-1, False)  # no search bar on the results page
    with pytest.raises(IndexError):
        env.step([len(env.actions(0)), 0])


def test_buying_the_target_with_its_options_succeeds_and_autoresets():
    env = envs.make("webshop", 1, seed=2, **SMALL)
    env.reset()
    shop = env.games[0].shop
    for _ in range(3):
        g = env.games[0].goal
        p = shop.products[shop.index[g.asin]]
        play(env, [f"search[{p.title}]"])
        assert f"click[{p.asin}]" in env.actions(0)
        r, term, infos = play(env, [f"click[{p.asin}]", *(f"click[{v}]" for v in g.options), "click[buy now]"])
        assert r == 1.0 and term and infos["episode"]["success"][0] and infos["episode"]["l"][0] == 3 + len(g.options)
        assert "Your score: 1.00" in env.prompt(0, final=True)[1] and env.games[0].view == "search"
    g = env.games[0].goal  # the wrong option values: the reward the reward function gives
    p = shop.products[shop.index[g.asin]]
    wrong = [next((w for w in vs if w != v), v) for v, vs in zip(g.options, dict(sorted(p.options.items())).values())]
    r, term, infos = play(env, [f"search[{p.title}]", f"click[{p.asin}]", *(f"click[{v}]" for v in wrong), "click[buy now]"])
    assert term and r == np.float32(reward_parts(g, p, wrong)["reward"]) and infos["episode"]["success"][0] == (r == 1)


def test_snapshot_mid_episode_resumes_exactly():
    env, rng = envs.make("webshop", 3, seed=9, **SMALL), np.random.default_rng(1)
    env.reset()

    def decide(e):  # per env: a free-query reply (on a search page, half the time) or a random listed command
        return [json.dumps({"action": f"search[{rng.choice(['shoes', 'green tea', 'black chair'])}]"})
                if e.games[i].view == "search" and rng.random() < 0.5 else e.sample_action(i, rng) for i in range(3)]

    def act(e, decisions):
        return [e.parse_action(d, i)[0] if isinstance(d, str) else d for i, d in enumerate(decisions)]

    for _ in range(7):
        env.step(act(env, decide(env)))
    snap = env.get_snapshot()
    json.dumps(snap)  # plain data
    assert {"search[shoes]", "search[green tea]", "search[black chair]"} & {c for p in snap["commands"] for c in p}  # replayed
    twin = envs.make("webshop", 3, seed=0, **SMALL)
    twin.set_snapshot(snap)
    free = 0
    for _ in range(25):
        assert [twin.prompt(i)[1] for i in range(3)] == [env.prompt(i)[1] for i in range(3)]
        decisions = decide(env)
        free += sum(isinstance(d, str) for d in decisions)
        a, b = env.step(act(env, decisions)), twin.step(act(twin, decisions))
        assert a[0] == b[0] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2]) and np.array_equal(a[3], b[3])
    assert free > 3
    for bad in ({**snap, "num_envs": 2}, {**snap, "options": {**snap["options"], "products": 500}}, {**snap, "extra": 1}, "x"):
        with pytest.raises(ValueError):
            twin.set_snapshot(bad)


def test_random_play_is_seeded_and_prompts_stay_short():
    runs = []
    for _ in range(2):
        env, rng, seen, ends = envs.make("webshop", 4, seed=5, **SMALL), np.random.default_rng(0), [], 0
        env.reset()
        for _ in range(60):
            seen.append([env.prompt(i)[1] for i in range(4)])
            assert all(env.prompt(i)[0] == [] and env.actions(i) and len(env.prompt(i)[1]) < 3000 for i in range(4))
            _, rewards, term, trunc, infos = env.step([env.sample_action(i, rng) for i in range(4)])
            assert ((0 <= rewards) & (rewards <= 1)).all() and not (term & trunc).any() and (rewards[~term] == 0).all()
            if infos:
                ends += int(infos["_episode"].sum())
                assert (infos["episode"]["l"][infos["_episode"]] <= 15).all()
        runs.append(seen)
    assert runs[0] == runs[1] and ends >= 12


def test_test_split_plays_the_held_out_goals_in_order():
    env = envs.make("webshop/test", 4, seed=0, max_steps=1, **SMALL)
    env.reset()
    shop = env.games[0].shop
    assert [env.games[i].goal for i in range(4)] == shop.test_goals[:4]
    env.step([0] * 4)  # max_steps=1: every episode ends, the next goals come
    assert [env.games[i].goal for i in range(4)] == shop.test_goals[4:8]


def test_options_are_checked():
    for bad in (dict(products=10), dict(max_steps=0), dict(history=-1), dict(products=True), dict(products=1.5),
                dict(data_dir=3), dict(colours=2)):
        with pytest.raises(ValueError):
            envs.make("webshop", 1, **bad)
    env = envs.make("webshop", 1, image_size=84, **SMALL)  # image_size (vldac's) is ignored: text only
    assert env.name == "webshop/train" and env.options == {"products": 400, "max_steps": 15, "history": 4, "catalog_seed": 0,
                                                            "data_dir": ""}
    with pytest.raises(ValueError, match="items_shuffle"):
        envs.make("webshop", 1, data_dir="/nonexistent")


def test_webshop_data_layout(tmp_path):
    items = [{"asin": f"B00000000{k}", "name": f"Brand{k} Cotton T-Shirt" if k % 2 else f"Brand{k} Ceramic Coffee Mug",
              "full_description": "Soft and durable.", "small_description": ["machine wash"], "pricing": "$12.99$15.99" if k % 2 else "$8.50",
              "customization_options": {"Color": [{"value": "Black/White", "image": None}, {"value": "Navy", "image": None}],
                                        "Size": [{"value": "Large", "image": None}]} if k % 2 else None,
              "category": "fashion" if k % 2 else "garden", "query": " T-Shirt " if k % 2 else "mug",
              "product_category": "Clothing › Men › Shirts" if k % 2 else "Home › Kitchen › Mugs", "images": ["x.jpg"]}
             for k in range(6)] + [{"asin": "nan", "name": "skipped"}]
    ins = {it["asin"]: {"attributes": ["machine wash", "cotton"]} for it in items[:6]}
    human = {it["asin"]: [{"instruction": f"i want a cotton {'t-shirt' if k % 2 else 'mug'}.", "instruction_attributes": ["cotton"],
                           "instruction_options": ["navy", "large"] if k % 2 else []}] for k, it in enumerate(items[:6])}
    for name, data in (("items_shuffle_1000.json", items), ("items_ins_v2_1000.json", ins), ("items_human_ins.json", human)):
        (tmp_path / name).write_text(json.dumps(data))
    env = envs.make("webshop/test", 3, seed=0, max_steps=50, data_dir=str(tmp_path))
    env.reset()
    shop = env.games[0].shop
    assert len(shop.products) == 6 and len(shop.test_goals) == 3
    shirt = shop.products[1]
    assert shirt.price == 12.99 and shirt.price_text == "$12.99 to $15.99" and shirt.query == "t-shirt"
    assert shirt.options == {"color": ("black | white", "navy"), "size": ("large",)} and shirt.features == ("machine wash",)
    for i in range(3):
        g = env.games[i].goal
        p = shop.products[shop.index[g.asin]]
        assert g.instruction == f"i want a cotton {'t-shirt' if p.options else 'mug'}, and price lower than {g.price_upper:.2f} dollars"
        play(env, [f"search[{p.title}]", f"click[{p.asin}]", *(f"click[{v}]" for v in g.options)], i)
        r, term, _ = play(env, ["click[buy now]"], i)
        assert term and r == 1.0


def test_vldac_trains_on_webshop(tmp_path):
    import vldac
    run = tmp_path / "run"
    m = vldac.main(["--env", "webshop", "--env-options", "products=200", "--num-envs", "4", "--num-steps", "2",
                    "--total-timesteps", "16", "--num-minibatches", "2", "--format-warmup-steps", "10", "--max-new-tokens", "48",
                    "--eval-every", "0", "--eval-episodes", "4", "--transcripts-every", "1", "--checkpoint-every", "1",
                    "--run-dir", str(run)])
    assert np.isfinite(m["losses/value_loss"]) and abs(m["losses/initial_ratio_dev"]) < 1e-4
    line = json.loads((run / "transcripts.jsonl").read_text().splitlines()[0])
    assert "Instruction: " in line["prompt"] and "Admissible commands: search[" in line["prompt"] and isinstance(line["action"], int)
    res = vldac.main(["--eval-only", "--checkpoint", str(run), "--task", "test", "--eval-episodes", "4"])  # held-out goals
    assert res["sampled"]["episodes"] == 4 and 0 <= res["greedy"]["episodic_return"] <= 1
    with pytest.raises(SystemExit, match="nosuch"):
        vldac.main(["--eval-only", "--checkpoint", str(run), "--task", "nosuch", "--eval-episodes", "4"])
    twin = tmp_path / "twin"  # the same run, resumed from its first checkpoint, ends where it ended
    shutil.copytree(run, twin)
    shutil.rmtree(twin / "ckpt-000002")
    (twin / "latest").write_text("ckpt-000001")
    r = vldac.main(["--resume", str(twin)])
    assert r["losses/policy_loss"] == m["losses/policy_loss"] and r["losses/value_loss"] == m["losses/value_loss"]
    a, b = (torch.load(d / "ckpt-000002" / "state.pt", weights_only=True) for d in (run, twin))
    assert a["ranks"][0]["env"] == b["ranks"][0]["env"] and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_vocabulary_names_every_fixed_button_option_value_and_type():
    env = envs.make("webshop", 1, **SMALL)
    words, shop = set(env.vocabulary), env.shop
    assert {f"click[{v}]" for p in shop.products for vs in p.options.values() for v in vs} <= words
    assert {f"search[{p.query}]" for p in shop.products} <= words
    assert {"click[buy now]", "click[next >]", "click[< prev]", "click[back to search]", "click[reviews]"} <= words
