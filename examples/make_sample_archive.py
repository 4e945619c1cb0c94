"""Build examples/sample-archive.zip: the X archive of a fictional account, for demos and tests.

The account (@tweetling_sample, "Sample Sprout (fictional)") and every post are made up for the
tweetling project; texts are composed from the template pools below. The archive follows the real
export layout (data/tweets.js behind `window.YTD.tweets.part0 = `, account.js, profile.js,
manifest.js) and mixes originals, retweets, replies, quotes, links, HTML entities, emoji,
multi-line and short posts, and a few in French, Spanish and German.

Deterministic: a fixed seed and fixed zip timestamps, so rebuilding gives identical bytes.

    python examples/make_sample_archive.py [OUTPUT.zip]
"""

from __future__ import annotations

import json
import random
import re
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

SEED = 20240501
HANDLE = "tweetling_sample"
DISPLAY_NAME = "Sample Sprout (fictional)"
ACCOUNT_ID = "1500000000000000001"
BIO = (
    "Fictional account written for the tweetling project 🌱 Cheerful gardener, hobby coder, "
    "tea enthusiast. Not a real person."
)
AVATAR = "https://abs.twimg.com/sticky/default_profile_images/default_profile_400x400.png"
FIRST = datetime(2019, 3, 1, tzinfo=timezone.utc)
LAST = datetime(2023, 3, 31, tzinfo=timezone.utc)
ZIP_TIME = (2023, 4, 1, 12, 0, 0)
TWITTER_EPOCH_MS = 1288834974657

COUNTS = {"original": 340, "short": 22, "foreign": 12, "retweet": 48, "reply": 55, "thread": 8, "quote": 15}

FRIENDS = {  # fictional accounts the persona talks to
    "fern_and_fig_fictional": "Fern & Fig",
    "compost_carla_sample": "Carla Compost",
    "bytesized_bea_sample": "Bea (bytesized)",
    "mossy_mike_sample": "Mossy Mike",
    "allotment_ana_sample": "Ana at plot 12",
    "pixel_potter_sample": "Pixel Potter",
    "rusty_trowel_sample": "The Rusty Trowel",
    "seedswap_club_sample": "Seed Swap Club",
}

PLANTS = [
    "tomatoes",
    "basil",
    "courgettes",
    "sunflowers",
    "sweet peas",
    "kale",
    "strawberries",
    "chillies",
    "runner beans",
    "lavender",
    "rhubarb",
    "garlic",
    "radishes",
    "broad beans",
    "carrots",
    "leeks",
    "nasturtiums",
    "squash",
    "lettuces",
    "beetroot",
    "mint",
    "dahlias",
    "potatoes",
    "peas",
    "chard",
    "cucumbers",
    "marigolds",
    "parsnips",
    "onions",
    "thyme",
]
PLACES = [
    "the allotment",
    "the balcony",
    "the greenhouse",
    "the raised bed",
    "the windowsill",
    "the back garden",
    "plot 14",
    "the cold frame",
    "the herb spiral",
    "the shed roof",
]
GARDEN_ACTIONS = [
    "sowed",
    "repotted",
    "pricked out",
    "mulched",
    "watered",
    "harvested",
    "staked",
    "thinned out",
    "planted out",
    "fed",
    "pinched out",
    "hardened off",
]
PESTS = [
    "slugs",
    "snails",
    "aphids",
    "pigeons",
    "the neighbour's cat",
    "cabbage whites",
    "a very bold squirrel",
    "blackfly",
    "a fox with no manners",
]
CODE_THINGS = [
    "my watering script",
    "the soil moisture logger",
    "a tiny Flask app",
    "the rain gauge dashboard",
    "my seed inventory database",
    "a Raspberry Pi",
    "the greenhouse thermometer bot",
    "my harvest spreadsheet exporter",
    "a Python CLI for my sowing calendar",
    "the compost temperature sensor",
]
CODE_EVENTS = [
    "finally passed all its tests",
    "crashed at 3am because of a timezone bug",
    "now runs on a solar panel",
    "got a proper README",
    "learned to send me alerts",
    "survived its first refactor",
    "has type hints everywhere now",
    "logged a whole month without a gap",
    "was off by one the entire summer",
    "now stores everything in SQLite instead of six CSV files",
]
REACTIONS = [
    "Small wins!",
    "Honestly delighted.",
    "Not bad for a Sunday.",
    "I'll take it.",
    "Tea to celebrate.",
    "Very proud of myself.",
    "The cat is unimpressed.",
    "Onwards!",
    "What a day.",
    "Life is good.",
    "Cheering quietly at the kitchen table.",
    "Feeling like a proper grown-up.",
    "Tiny happy dance.",
    "Could not be happier.",
]
EMOJI = ["🌱", "🍅", "🌻", "🐌", "☕", "🐍", "💚", "🌧️", "☀️", "🥕", "🐝", "🪴", "✨", "🙌"]
WEATHER = [
    "Rain all morning",
    "First frost overnight",
    "Glorious sunshine",
    "Wind howling",
    "Drizzle and grey skies",
    "A proper heatwave",
    "Fog so thick I lost the shed",
    "Hail for five minutes, then sun",
]
TEA = [
    "builder's tea",
    "mint tea from the garden",
    "a flask of rooibos",
    "far too much coffee",
    "lemon verbena tea",
    "chamomile",
]
HASHTAGS = [
    "#gardening",
    "#allotment",
    "#GrowYourOwn",
    "#Python",
    "#100DaysOfCode",
    "#RaspberryPi",
    "#compost",
    "#seedswap",
    "#balconygarden",
    "#homegrown",
]
LINKS = [
    ("sproutnotes.example/2021/tomato-log", "My tomato log"),
    ("sproutnotes.example/compost-bot", "How the compost bot works"),
    ("sproutnotes.example/seed-db", "A tiny seed database"),
    ("sproutnotes.example/rain-gauge", "Building a rain gauge"),
    ("sproutnotes.example/balcony-herbs", "Herbs on a north balcony"),
    ("sproutnotes.example/sowing-calendar", "A sowing calendar in 80 lines"),
]

GARDEN_SENTENCES = [
    "Just {action} the {plant} at {place} and they look so happy.",
    "The {plant} at {place} are doing far better than I deserve.",
    "{weather}, so I {action} the {plant} and hid in the shed with {tea}.",
    "Lost half the {plant} to {pest} again. Planting twice as many out of spite.",
    "Today I learned that {plant} really do not like being {action} in the rain.",
    "Spent an hour at {place} talking to the {plant}. They were good listeners.",
    "If anyone needs {plant}, I have about forty too many. Come and take them, please.",
    "The first {plant} of the year are up! Tiny green flags of hope.",
    "Note to self: label the {plant} BEFORE planting them, not after.",
    "Swapped some {plant} seedlings for a bag of {plant2} seeds at the market. Great trade.",
    "Grew {plant} from seed for the first time and I feel like a wizard.",
    "The {pest} have discovered the {plant}. War has been declared.",
    "Came home to find {place} full of {plant} flowers. Best surprise all week.",
    "Morning routine: {tea}, check the {plant}, argue with {pest}, repeat.",
    "Companion planting experiment: {plant} next to {plant2}. Results in August, maybe.",
    "Whoever invented raised beds deserves a medal and a lifetime supply of {plant}.",
    "My back hurts, my hands are muddy and the {plant} are in. Perfect day.",
    "Harvest count so far: too many {plant}, not enough {plant2}. Classic.",
    "The {plant} survived the frost! I may have cried a little.",
    "Reading seed catalogues in bed like other people read thrillers.",
    "There is no problem a wheelbarrow of compost cannot improve.",
    "Found a forgotten row of {plant} behind the {plant2}. Free food!",
    "Every year I promise to grow fewer {plant}. Every year I lie.",
    "Watering can in one hand, {tea} in the other. Balance.",
    "The robin has been following me around {place} all afternoon. I think we are friends now.",
    "Planted the {plant} exactly where the {plant2} failed last year. Fingers crossed.",
    "Made soup from the {plant} and the {plant2}. Tasted like summer.",
    "Pro tip: a saucer of water for the bees on hot days. They really appreciate it.",
]
CODE_SENTENCES = [
    "{code} {event}.",
    "Spent the evening on {code} instead of weeding. No regrets.",
    "Wrote a regex to parse my seed packet notes. Now I have two problems and a lot of seeds.",
    "Turns out {code} {event}. Who knew?",
    "Rubber duck debugging, except the duck is a garden gnome.",
    "Refactored {code} and deleted 200 lines. Best feeling in the world.",
    "Pair programming with the cat today. She mostly pressed the space bar.",
    "My unit tests caught a bug before the tomatoes did. Progress!",
    "Finally understood decorators in Python. Celebrating with {tea}.",
    "The best code I wrote this week was a three line script that reminds me to water the {plant}.",
    "Dear past me: please write comments. Signed, confused present me.",
    "If it works on the Raspberry Pi in the greenhouse, it works everywhere. That is my CI.",
    "Wired a moisture sensor to the {plant} bed. It says they are thirsty. So am I.",
    "Learning SQL by querying ten years of my own harvest notes. Surprisingly emotional.",
    "Today's bug: the logger thought February had 30 days.",
    "I name all my branches after vegetables. Currently merging {plant} into main.",
    "Nothing humbles you like an off-by-one error at 11pm.",
    "Made a chart of rainfall against slug sightings. The correlation is alarming.",
]
LIFE_SENTENCES = [
    "Cycled to the library in the rain and it was worth it.",
    "Baked bread with {plant} in it. Do not ask, it worked.",
    "Sunday plan: {tea}, a good book, absolutely no emails.",
    "The neighbour's kid asked me what a computer garden is. I said it is where bugs grow.",
    "Sat on the back step with {tea} and watched the bees for half an hour.",
    "My cat has claimed the seed tray as a bed. Negotiations are ongoing.",
    "Went to a repair café today and fixed a toaster. Feeling invincible.",
    "Reminder that it is fine to do one small thing today and call it a win.",
    "Today is a good day to tidy the shed. Tomorrow is a good day to lose everything in it.",
    "Found my old gardening diary from 2012. I was so confident and so wrong about {plant}.",
]
MULTILINE = [
    "Allotment to-do list:\n- {action} the {plant}\n- fix the water butt\n- chase off {pest}\n- {tea}",
    "Things I grew this year:\n{plant} ✅\n{plant2} ✅\npatience ❌",
    "Weekend report:\n{weather}.\n{action_cap} the {plant}.\nAte too much cake.\n10/10 would do again.",
    "Recipe for a good morning:\n1. {tea}\n2. check the {plant}\n3. push one commit\n4. back to bed",
    "Garden haiku:\n{plant} in the rain\nthe slugs have a dinner plan\nI have a torch too",
    "Debugging checklist:\n- is it plugged in\n- is the sensor wet\n- is the cat sitting on it",
]
ENTITY_POSTS = [
    "{plant} & {plant2}: the best combo in any salad.",
    "Rule of thumb: if moisture < 30% then water, if > 70% then go make tea.",
    "Seeds & code & tea. That's the whole personality.",
    "Version 2 of the watering bot -> now with fewer floods & more logs.",
    "Me < my garden < my cat, in the household hierarchy.",
    "Compost temperature today > yesterday. The heap is alive & well.",
]
LINK_INTROS = [
    "New blog post:",
    "Wrote up the whole thing here:",
    "Finally published this:",
    "In case anyone wants the details:",
    "A little write-up:",
]
SHORT = [
    "lol",
    "good morning",
    "Morning!",
    "brb",
    "ugh",
    "yes!!",
    "so tired",
    "☕",
    "🌱🌱🌱",
    "tea time",
    "haha",
    "Rain again",
    "goodnight",
    "wow",
    "same",
    "oops",
    "finally",
    "🍅",
    "nope",
    "hello friends",
    "back!",
    "sunny!",
]
FOREIGN = [
    ("fr", "Premières tomates de la saison au potager ! Je suis tellement contente 🍅"),
    ("fr", "Journée pluvieuse, parfaite pour coder un petit script et boire du thé."),
    ("fr", "Les limaces ont mangé toute ma salade. Je ne leur pardonnerai jamais."),
    ("fr", "Mon balcon est devenu une petite jungle de basilic et de menthe."),
    ("es", "Hoy planté girasoles con mi vecina. ¡Qué día tan bonito!"),
    ("es", "Mi script de riego por fin funciona. Las plantas y yo estamos felices 🌱"),
    ("es", "Nada mejor que un café en el huerto a primera hora de la mañana."),
    ("es", "Las fresas de este año están riquísimas, aunque los pájaros opinan lo mismo."),
    ("de", "Heute die ersten Radieschen geerntet. Der Frühling ist endlich da!"),
    ("de", "Mein Gewächshaus-Thermometer twittert jetzt selbst. Ich bin stolz."),
    ("de", "Regen, Tee und ein gutes Buch. Mehr brauche ich heute nicht."),
    ("de", "Die Schnecken sind zurück. Ich habe eine Taschenlampe und einen Plan."),
]
OTHER_VOICES = [  # what the friends post, for retweets and quotes
    "Seed swap this Saturday at the community hall! Bring your spare seeds and your best stories about slugs",
    "Reminder: leave a wild corner in your garden for the hedgehogs, they will thank you with fewer beetles",
    "Thread: ten things I wish I knew before taking on an allotment, starting with how much a courgette plant produces",
    "Just released version 1.0 of my tiny plant watering library, thanks to everyone who sent bug reports",
    "Compost is just slow cooking for the soil and I will not be taking questions",
    "Our school garden grew 40 kilos of potatoes this year and the kids weighed every single one",
    "Free workshop next week: build your own soil moisture sensor with a microcontroller and some patience",
    "The bees are back on the lavender and all is right with the world",
    "Hot take: the best programming language is whichever one lets you go outside sooner",
    "We planted 300 bulbs along the canal path today. See you in spring, daffodils",
    "Today's harvest: three cucumbers, one very large marrow and a snail that refused to leave",
    "Pro tip for new growers: write the sowing date on the label, future you will be grateful",
    "Big news from the community orchard: the old pear tree everyone said was dead has flowered again, and the whole street came out to look at it",
    "We counted the hedgehogs on the night camera this week and there were five of them, which is three more than last year, so the log piles are working",
    "Our little open source rain gauge project just got its hundredth contributor and most of them had never written a line of code before joining",
    "Looking for volunteers for the autumn bulb planting on Sunday morning, we have gloves, tea, biscuits and far too many crocus bulbs for one person",
]
REPLIES = [
    "that looks amazing! How do you keep the {pest} away?",
    "yes please, I would love some {plant} seedlings!",
    "haha same here, the {pest} ate everything last week",
    "thank you so much, that really made my day 💚",
    "have you tried copper tape? It worked a bit for my {plant}.",
    "congratulations!! Well deserved.",
    "I had exactly the same bug, it was the timezone. It is always the timezone.",
    "ooh I want to try this with {code}",
    "see you at the seed swap, I will bring {plant}!",
    "that is the best thing I have read all day",
    "so sorry to hear that, the {plant} will come back next year",
    "absolutely agree, compost fixes everything",
    "wow, what variety of {plant} is that?",
    "thanks!",
    "lol",
]
THREAD = [
    "2/ The trick was to water in the evening, not the morning. The {plant} perked up within days.",
    "Part two: the sensor now sends a message when the soil gets dry. The cat ignores it, the {plant} love it.",
    "And one more thing: label everything. I still do not know which of these are {plant}.",
    "Update: the {plant} made it through the week. Thanks for all the kind replies!",
]
QUOTES = [
    "This is exactly the energy I need today.",
    "Going to this, who else is coming?",
    "Could not agree more. {emoji}",
    "Yes! Everyone should read this before buying a single seed.",
    "Bookmarking this for spring.",
    "Love this so much {emoji}",
]
SOURCES = [
    '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
    '<a href="http://twitter.com/download/android" rel="nofollow">Twitter for Android</a>',
    '<a href="http://twitter.com/download/iphone" rel="nofollow">Twitter for iPhone</a>',
]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class Writer:
    """Composes the posts of the archive from the pools, with one seeded random generator."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def fill(self, template: str) -> str:
        plant, plant2 = self.rng.sample(PLANTS, 2)
        action = self.rng.choice(GARDEN_ACTIONS)
        values = {
            "plant": plant,
            "plant2": plant2,
            "place": self.rng.choice(PLACES),
            "action": action,
            "action_cap": action.capitalize(),
            "pest": self.rng.choice(PESTS),
            "code": self.rng.choice(CODE_THINGS),
            "event": self.rng.choice(CODE_EVENTS),
            "weather": self.rng.choice(WEATHER),
            "tea": self.rng.choice(TEA),
            "emoji": self.rng.choice(EMOJI),
        }
        return template.format(**values)

    def sentence(self) -> str:
        pool = self.rng.choices([GARDEN_SENTENCES, CODE_SENTENCES, LIFE_SENTENCES], [5, 3, 2])[0]
        text = self.fill(self.rng.choice(pool))
        return text[0].upper() + text[1:]

    def original(self) -> tuple[str, list[tuple[str, str]]]:
        """(text, [(t.co url, expanded url)]) of one original post."""
        roll = self.rng.random()
        links: list[tuple[str, str]] = []
        if roll < 0.08:
            text = self.fill(self.rng.choice(MULTILINE))
        elif roll < 0.14:
            text = f"{self.fill(self.rng.choice(ENTITY_POSTS))} {self.sentence()}"
        elif roll < 0.24:
            path, title = self.rng.choice(LINKS)
            short = self.tco()
            text = f"{self.rng.choice(LINK_INTROS)} {title.lower()} {self.rng.choice(EMOJI)} {short}"
            links.append((short, f"https://{path}"))
        else:
            sentences = [self.sentence() for _ in range(self.rng.choice([2, 2, 3]))]
            while len(sentences) > 1 and len(" ".join(sentences)) > 250:
                sentences.pop()
            text = " ".join(sentences)
        if self.rng.random() < 0.3:
            text += " " + self.rng.choice(EMOJI)
        if self.rng.random() < 0.15:
            text += " " + self.rng.choice(HASHTAGS)
        return text, links

    def tco(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "https://t.co/" + "".join(self.rng.choices(alphabet, k=10))


def snowflake(moment: datetime, rng: random.Random) -> str:
    """A realistic X post id for MOMENT: milliseconds since the X epoch, then 22 random bits."""
    ms = int(moment.timestamp() * 1000) + rng.randrange(1000)
    return str(((ms - TWITTER_EPOCH_MS) << 22) | rng.getrandbits(22))


def x_date(moment: datetime) -> str:
    return f"{DAYS[moment.weekday()]} {MONTHS[moment.month - 1]} {moment.day:02d} {moment:%H:%M:%S} +0000 {moment.year}"


def entities(text: str, links: list[tuple[str, str]]) -> dict:
    """Hashtags, mentions and urls of TEXT with code-point indices, as X reports them."""

    def span(match: re.Match) -> list[str]:
        return [str(match.start()), str(match.end())]

    mentions = [
        {
            "name": FRIENDS.get(m.group(1), DISPLAY_NAME),
            "screen_name": m.group(1),
            "indices": span(m),
            "id_str": _user_id(m.group(1)),
            "id": _user_id(m.group(1)),
        }
        for m in re.finditer(r"@(\w+)", text)
    ]
    hashtags = [{"text": m.group(1), "indices": span(m)} for m in re.finditer(r"#(\w+)", text)]
    urls = []
    for short, expanded in links:
        start = text.index(short)
        display = expanded.removeprefix("https://")
        urls.append(
            {
                "url": short,
                "expanded_url": expanded,
                "display_url": display if len(display) <= 26 else display[:25] + "…",
                "indices": [str(start), str(start + len(short))],
            }
        )
    return {"hashtags": hashtags, "symbols": [], "user_mentions": mentions, "urls": urls}


def _user_id(handle: str) -> str:
    if handle == HANDLE:
        return ACCOUNT_ID
    return str(1400000000000000000 + sorted(FRIENDS).index(handle) * 7919 + 1)


def escape_entities(text: str) -> str:
    """X stores &, < and > of post texts HTML-escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def tweet_object(
    rng: random.Random,
    moment: datetime,
    text: str,
    lang: str,
    links: list[tuple[str, str]],
    extra: dict,
    start: int = 0,
) -> dict:
    post_id = snowflake(moment, rng)
    editable = moment + timedelta(minutes=30)
    tweet = {
        "edit_info": {
            "initial": {
                "editTweetIds": [post_id],
                "editableUntil": editable.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "editsRemaining": "5",
                "isEditEligible": True,
            }
        },
        "retweeted": False,
        "source": rng.choice(SOURCES),
        "entities": entities(text, links),
        "display_text_range": [str(start), str(len(text))],
        "favorite_count": str(0 if text.startswith("RT @") else rng.choice([0, 0, 1, 2, 3, 5, 8, 13, 21])),
        "id_str": post_id,
        "truncated": False,
        "retweet_count": str(rng.choice([0, 0, 0, 1, 2, 4]) if not text.startswith("RT @") else rng.randrange(3, 60)),
        "id": post_id,
        "created_at": x_date(moment),
        "favorited": False,
        "full_text": escape_entities(text),
        "lang": lang,
    }
    tweet.update(extra)
    return tweet


def build_tweets(seed: int = SEED) -> list[dict]:
    """All tweets of the archive, newest first like a real export."""
    writer = Writer(seed)
    rng = writer.rng
    plan = [kind for kind, count in COUNTS.items() for _ in range(count)]
    rng.shuffle(plan)
    span_s = int((LAST - FIRST).total_seconds())
    moments = sorted(FIRST + timedelta(seconds=rng.randrange(span_s)) for _ in plan)
    tweets: list[dict] = []
    for kind, moment in zip(plan, moments, strict=True):
        own = [t for t in tweets if not t["full_text"].startswith(("RT @", "@"))]
        tweets.append(_make(kind, moment, writer, own))
    return tweets[::-1]


def _make(kind: str, moment: datetime, writer: Writer, own: list[dict]) -> dict:
    rng = writer.rng
    friend = rng.choice(sorted(FRIENDS))
    if kind == "original":
        text, links = writer.original()
        return tweet_object(rng, moment, text, "en", links, {})
    if kind == "short":
        return tweet_object(rng, moment, rng.choice(SHORT), "en" if rng.random() < 0.8 else "und", [], {})
    if kind == "foreign":
        lang, text = rng.choice(FOREIGN)
        return tweet_object(rng, moment, text, lang, [], {})
    if kind == "retweet":
        text = f"RT @{friend}: {rng.choice(OTHER_VOICES)}"
        if len(text) > 140:
            text = text[:139].rstrip() + "…"
        return tweet_object(rng, moment, text, "en", [], {})
    if kind == "quote":
        quoted_id = snowflake(moment - timedelta(hours=rng.randrange(1, 48)), rng)
        short = writer.tco()
        text = f"{writer.fill(rng.choice(QUOTES))} {short}"
        links = [(short, f"https://twitter.com/{friend}/status/{quoted_id}")]
        return tweet_object(
            rng, moment, text, "en", links, {"is_quote_status": True, "quoted_status_id_str": quoted_id}
        )
    if kind == "thread" and own:
        parent = own[-1]
        text = writer.fill(rng.choice(THREAD))
        return tweet_object(rng, moment, text, "en", [], _reply_fields(parent["id_str"], HANDLE))
    mentions = [friend] + ([rng.choice(sorted(set(FRIENDS) - {friend}))] if rng.random() < 0.2 else [])
    prefix = " ".join(f"@{m}" for m in mentions) + " "
    text = prefix + writer.fill(rng.choice(REPLIES))
    parent_id = snowflake(moment - timedelta(minutes=rng.randrange(5, 600)), rng)
    return tweet_object(rng, moment, text, "en", [], _reply_fields(parent_id, friend), start=len(prefix))


def _reply_fields(parent_id: str, handle: str) -> dict:
    user_id = _user_id(handle)
    return {
        "in_reply_to_status_id_str": parent_id,
        "in_reply_to_status_id": parent_id,
        "in_reply_to_user_id": user_id,
        "in_reply_to_user_id_str": user_id,
        "in_reply_to_screen_name": handle,
    }


def data_file(global_name: str, items: list) -> str:
    """A data file as X writes it: `window.YTD.<name>.part0 = [...]`."""
    return f"window.{global_name} = {json.dumps(items, indent=2, ensure_ascii=False, separators=(',', ' : '))}"


def archive_files(seed: int = SEED) -> dict[str, str]:
    tweets = build_tweets(seed)
    account = [
        {
            "account": {
                "email": None,
                "createdVia": "web",
                "username": HANDLE,
                "accountId": ACCOUNT_ID,
                "createdAt": "2019-02-14T09:30:00.000Z",
                "accountDisplayName": DISPLAY_NAME,
            }
        }
    ]
    profile = [
        {
            "profile": {
                "description": {
                    "bio": BIO,
                    "website": "https://sproutnotes.example",
                    "location": "A fictional allotment",
                },
                "avatarMediaUrl": AVATAR,
            }
        }
    ]
    manifest = {
        "userInfo": {"accountId": ACCOUNT_ID, "userName": HANDLE, "displayName": DISPLAY_NAME},
        "archiveInfo": {
            "sizeBytes": "0",
            "generationDate": "2023-04-01T12:00:00.000Z",
            "isPartialArchive": False,
            "maxPartSizeBytes": "53687091200",
        },
        "readmeInfo": {"fileName": "data/README.txt", "directory": "data/", "name": "README.txt"},
        "dataTypes": {
            name: {"files": [{"fileName": f"data/{name}.js", "globalName": f"YTD.{name}.part0", "count": str(count)}]}
            for name, count in (("account", 1), ("profile", 1), ("tweets", len(tweets)))
        },
    }
    readme = (
        "This is the X account archive of a FICTIONAL account (@tweetling_sample), generated by\n"
        "examples/make_sample_archive.py for the tweetling project. No real person wrote it.\n"
    )
    return {
        "data/README.txt": readme,
        "data/account.js": data_file("YTD.account.part0", account),
        "data/manifest.js": "window.__THAR_CONFIG = " + json.dumps(manifest, indent=2, separators=(",", " : ")),
        "data/profile.js": data_file("YTD.profile.part0", profile),
        "data/tweets.js": data_file("YTD.tweets.part0", [{"tweet": tweet} for tweet in tweets]),
    }


def write_zip(target: Path, files: dict[str, str]) -> None:
    """Same files in, same bytes out: fixed order, times and attributes."""
    with zipfile.ZipFile(target, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name].encode("utf-8"), compresslevel=9)


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("sample-archive.zip")
    write_zip(target, archive_files())
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
