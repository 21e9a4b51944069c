"""Concepts of the synthetic world, the English words that name them, and the grammar of its texts.

A concept is one visual unit (an object, an action or an attribute) with one latent vector in the
world; its words are synonyms. Function words (determiners, prepositions, conjunctions, fillers)
name no concept and so carry no visual evidence, as the paper assumes of real captions (Sec. 3.2).
In every inventory table the line order is the frequency rank: the world samples concepts with
Zipf weights ``1 / (rank + 1) ** s``, so frequent generic words ("pan", "man") have low IDF (Eq. 7).

An ``Event`` is the meaning of one step or action; the realisers below turn it into text in the
style of each dataset: instructions (YouCook2), step labels (CrossTask, COIN), descriptions
(MSR-VTT), narrative sentences (ActivityNet) and noisy speech (HowTo100M).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OBJECT, ACTION, ATTRIBUTE = "object", "action", "attribute"
# frames: how an action's roles are put into words
APPLY, TREAT, COOK, COMBINE, HANDLE = "apply", "treat", "cook", "combine", "handle"


@dataclass(frozen=True)
class Noun:
    singular: str
    plural: str | None  # None for mass nouns ("salt"), which never take "a"


@dataclass(frozen=True)
class Verb:
    base: str
    third: str
    past: str
    ing: str


@dataclass(frozen=True)
class Concept:
    """One visual unit; ``forms`` are its synonyms, the first the most common."""

    key: str
    kind: str  # OBJECT | ACTION | ATTRIBUTE
    role: str  # inventory table: "solid", "container", "person", ... for objects; the frame for actions
    forms: tuple[Noun | Verb | str, ...]
    rank: int  # frequency rank inside its table, 0 = most frequent
    domain: str  # "cooking", "diy" or "open"
    parent: str | None = None  # hypernym whose latent vector this one leans on
    preps: tuple[str, ...] = ()  # prepositions it takes (actions: before their place; places: before them)
    salience: float = 1.0  # how visible it is: scales its frame evidence
    group: str | None = None  # finer kind inside a table ("veg", "meat", "fruit", ...)


@dataclass(frozen=True)
class Event:
    """The meaning of one step: who does what to which objects, where or with what."""

    action: str
    objects: tuple[str, ...] = ()
    place: str | None = None  # container, tool, shape or location
    attribute: str | None = None  # describes objects[0]
    second_action: str | None = None  # a short follow-up ("... and stir")
    agent: str | None = None  # open-domain subject; None for instructions
    agent_attribute: str | None = None

    def concepts(self) -> tuple[str, ...]:
        """Every concept the event shows, agent first."""
        keys = (self.agent, self.agent_attribute, self.action, self.second_action, *self.objects,
                self.place, self.attribute)
        return tuple(k for k in keys if k is not None)


# --- inventory tables: one concept per line, synonyms separated by ", ", options after ";" ---------
# nouns: "singular/plural" (a mass noun has no "/plural"); verbs: "base|third|past|ing"
_TABLES: list[tuple[str, str, str, float, str]] = []  # (domain, kind, role, salience, text)


def _table(domain: str, kind: str, role: str, text: str, salience: float = 1.0) -> None:
    _TABLES.append((domain, kind, role, salience, text))


_table("cooking", OBJECT, "solid", """
onion/onions ; group=veg
garlic ; group=veg
tomato/tomatoes ; group=veg
chicken ; group=meat
potato/potatoes ; group=veg
carrot/carrots ; group=veg
egg/eggs ; group=staple
bread ; group=staple
cheese ; group=staple
beef ; group=meat
bell pepper/bell peppers, capsicum/capsicums ; group=veg
ginger ; group=veg
green onion/green onions, scallion/scallions, spring onion/spring onions ; group=veg
mushroom/mushrooms ; group=veg
pork ; group=meat
rice ; group=staple
pasta ; group=staple
noodles ; group=staple
shrimp, prawn/prawns ; group=meat
lettuce ; group=veg
cucumber/cucumbers ; group=veg
chili/chilies, chilli/chillies ; group=veg
lemon/lemons ; group=fruit
cabbage ; group=veg
spinach ; group=veg
celery ; group=veg
tofu ; group=meat
fish ; group=meat
salmon ; group=meat
bacon ; group=meat
sausage/sausages ; group=meat
corn ; group=veg
bean/beans ; group=veg
broccoli ; group=veg
avocado/avocados ; group=veg
apple/apples ; group=fruit
banana/bananas ; group=fruit
cilantro, coriander ; group=herb
parsley ; group=herb
basil ; group=herb
zucchini/zucchinis, courgette/courgettes ; group=veg
eggplant/eggplants, aubergine/aubergines ; group=veg
lime/limes ; group=fruit
dough ; group=staple
tortilla/tortillas ; group=staple
shallot/shallots ; group=veg
strawberry/strawberries ; group=fruit
mango/mangoes ; group=fruit
pineapple/pineapples ; group=fruit
pea/peas ; group=veg
lamb ; group=meat
ham ; group=meat
pumpkin/pumpkins ; group=veg
kale ; group=veg
leek/leeks ; group=veg
radish/radishes ; group=veg
asparagus ; group=veg
chickpea/chickpeas ; group=veg
olive/olives ; group=veg
cashew/cashews ; group=nut
almond/almonds ; group=nut
walnut/walnuts ; group=nut
peach/peaches ; group=fruit
steak/steaks ; group=meat
crab/crabs ; group=meat
squid ; group=meat
lemongrass ; group=veg
""")
_table("cooking", OBJECT, "liquid", """
oil, vegetable oil, cooking oil
water
soy sauce
milk
butter
tomato sauce
vinegar
cream, heavy cream
stock, broth
wine, white wine
lemon juice
honey
coconut milk
mayonnaise, mayo
ketchup
fish sauce
sesame oil
olive oil
yogurt, yoghurt
maple syrup, syrup
oyster sauce
mustard
""", salience=0.7)
_table("cooking", OBJECT, "powder", """
salt
pepper, black pepper
sugar
flour
cumin
paprika
chili powder
baking powder
turmeric
garam masala
cinnamon
oregano
cornstarch, corn starch
sesame seeds
brown sugar
thyme
curry powder
nutmeg
breadcrumbs, bread crumbs
yeast
cocoa powder
baking soda
saffron
""", salience=0.45)
_table("cooking", OBJECT, "container", """
pan/pans, skillet/skillets, frying pan/frying pans ; preps=in into to
bowl/bowls ; preps=in into to
pot/pots, saucepan/saucepans ; preps=in into to
plate/plates ; preps=on onto
cutting board/cutting boards, chopping board/chopping boards, board/boards ; preps=on onto
baking tray/baking trays, baking sheet/baking sheets, tray/trays ; preps=on onto
oven/ovens ; preps=in into
wok/woks ; preps=in into
blender/blenders, food processor/food processors ; preps=in into
baking dish/baking dishes ; preps=in into
grill/grills ; preps=on onto ; key=grill rack
jar/jars ; preps=in into
glass/glasses ; preps=in into
""", salience=0.8)
_table("cooking", OBJECT, "tool", """
knife/knives ; preps=with
spoon/spoons ; preps=with
spatula/spatulas ; preps=with
lid/lids ; preps=with
fork/forks ; preps=with
rolling pin/rolling pins ; preps=with
grater/graters ; preps=with
""", salience=0.6)
_table("cooking", OBJECT, "shape", """
piece/pieces ; preps=into
slice/slices ; preps=into ; key=slices
cube/cubes ; preps=into
strip/strips ; preps=into
ring/rings ; preps=into
half/halves ; preps=into
wedge/wedges ; preps=into
ball/balls ; preps=into
""", salience=0.5)
_table("cooking", OBJECT, "dish", """
mixture/mixtures
sauce/sauces
soup/soups
salad/salads
curry/curries
cake/cakes
pancake/pancakes
omelette/omelettes, omelet/omelets
sandwich/sandwiches
burger/burgers
pizza/pizzas
taco/tacos
stew/stews
fried rice
pie/pies
cookie/cookies
smoothie/smoothies
dumpling/dumplings
kebab/kebabs
lasagna
risotto
""", salience=0.9)
_table("cooking", ACTION, APPLY, """
add|adds|added|adding ; preps=to into in
put|puts|put|putting, place|places|placed|placing ; preps=in on into
pour|pours|poured|pouring ; preps=into over in
sprinkle|sprinkles|sprinkled|sprinkling ; preps=on over
spread|spreads|spread|spreading ; preps=on over
transfer|transfers|transferred|transferring ; preps=to into onto
drizzle|drizzles|drizzled|drizzling ; preps=over on
serve|serves|served|serving ; preps=on in
dip|dips|dipped|dipping ; preps=into in
layer|layers|layered|layering ; preps=on in
""")
_table("cooking", ACTION, TREAT, """
cut|cuts|cut|cutting ; preps=with on
chop|chops|chopped|chopping ; preps=with on ; parent=cut
slice|slices|sliced|slicing ; preps=with on ; parent=cut
peel|peels|peeled|peeling ; preps=with
dice|dices|diced|dicing ; preps=with on ; parent=cut
mince|minces|minced|mincing ; preps=with on ; parent=cut
wash|washes|washed|washing, rinse|rinses|rinsed|rinsing ; preps=in with
coat|coats|coated|coating ; preps=with in
grate|grates|grated|grating, shred|shreds|shredded|shredding ; preps=with
cover|covers|covered|covering ; preps=with
remove|removes|removed|removing ; preps=from
marinate|marinates|marinated|marinating ; preps=in with
mash|mashes|mashed|mashing ; preps=with in
crush|crushes|crushed|crushing ; preps=with
drain|drains|drained|draining ; preps=in
flip|flips|flipped|flipping ; preps=with in
roll|rolls|rolled|rolling ; preps=with on
knead|kneads|kneaded|kneading ; preps=on with
garnish|garnishes|garnished|garnishing ; preps=with
""")
_table("cooking", ACTION, COOK, """
cook|cooks|cooked|cooking ; preps=in on
fry|fries|fried|frying, saute|sautes|sauteed|sauteing ; preps=in ; parent=cook
heat|heats|heated|heating, warm|warms|warmed|warming ; preps=in
boil|boils|boiled|boiling ; preps=in ; parent=cook
bake|bakes|baked|baking ; preps=in ; parent=cook
simmer|simmers|simmered|simmering ; preps=in ; parent=cook
melt|melts|melted|melting ; preps=in
roast|roasts|roasted|roasting ; preps=in on ; parent=cook
grill|grills|grilled|grilling ; preps=on ; parent=cook
steam|steams|steamed|steaming ; preps=in ; parent=cook
""")
_table("cooking", ACTION, COMBINE, """
mix|mixes|mixed|mixing, combine|combines|combined|combining ; preps=in
stir|stirs|stirred|stirring ; preps=in
whisk|whisks|whisked|whisking, beat|beats|beat|beating ; preps=in
blend|blends|blended|blending ; preps=in
toss|tosses|tossed|tossing ; preps=in
fold|folds|folded|folding ; preps=into in
""")
_table("cooking", ATTRIBUTE, "state", """
chopped ; parent=chop
sliced ; parent=slice
fresh
diced ; parent=dice
minced ; parent=mince
cooked ; parent=cook
grated ; parent=grate
boiled ; parent=boil
fried ; parent=fry
melted ; parent=melt
""", salience=0.6)
_table("any", ATTRIBUTE, "size", """
small, little
large, big
thin
thick
whole
""", salience=0.6)
_table("any", ATTRIBUTE, "color", """
red
green
white
black
blue
yellow
""", salience=0.6)
_table("cooking", ATTRIBUTE, "temperature", """
hot
warm
cold
""", salience=0.5)

_table("diy", OBJECT, "item", """
car/cars
tire/tires, tyre/tyres
wheel/wheels
wall/walls
nut/nuts, lug nut/lug nuts
screw/screws
hole/holes
plant/plants
board/boards, plank/planks
shelf/shelves
bike/bikes, bicycle/bicycles
paint ; key=wall paint
soil, dirt
paper
bolt/bolts
engine/engines
door/doors
window/windows
chair/chairs
table/tables
pipe/pipes
sink/sinks
flower/flowers
tree/trees
seed/seeds
bracket/brackets
fence/fences
hood/hoods
cap/caps
filter/filters
battery/batteries
tube/tubes, inner tube/inner tubes
chain/chains
floor/floors
tile/tiles
faucet/faucets, tap/taps
card/cards
box/boxes
ribbon/ribbons
motor oil, engine oil
light bulb/light bulbs, bulb/bulbs
cable/cables, wire/wires
mirror/mirrors
""")
_table("diy", OBJECT, "tool", """
wrench/wrenches ; preps=with
screwdriver/screwdrivers ; preps=with
drill/drills ; preps=with ; key=power drill
hammer/hammers ; preps=with
brush/brushes, paintbrush/paintbrushes ; preps=with
cloth/cloths, rag/rags ; preps=with
jack/jacks ; preps=with
pump/pumps ; preps=with
scissors ; preps=with
sandpaper ; preps=with
saw/saws ; preps=with
glue ; preps=with
tape ; preps=with
roller/rollers, paint roller/paint rollers ; preps=with
sponge/sponges ; preps=with
pencil/pencils ; preps=with
shovel/shovels ; preps=with
hose/hoses ; preps=with
spray bottle/spray bottles ; preps=with
bucket/buckets ; preps=with
""", salience=0.7)
_table("diy", ACTION, TREAT, """
loosen|loosens|loosened|loosening ; preps=with
tighten|tightens|tightened|tightening ; preps=with
clean|cleans|cleaned|cleaning ; preps=with
install|installs|installed|installing ; preps=on in
paint|paints|painted|painting ; preps=with
attach|attaches|attached|attaching ; preps=to with
drill|drills|drilled|drilling ; preps=in into with
measure|measures|measured|measuring ; preps=with
wipe|wipes|wiped|wiping ; preps=with
lift|lifts|lifted|lifting, raise|raises|raised|raising ; preps=with
lower|lowers|lowered|lowering ; preps=with
sand|sands|sanded|sanding ; preps=with
mark|marks|marked|marking ; preps=with on
check|checks|checked|checking ; preps=with
dig|digs|dug|digging ; preps=in with
scrub|scrubs|scrubbed|scrubbing ; preps=with
open|opens|opened|opening ; preps=with
close|closes|closed|closing
inflate|inflates|inflated|inflating ; preps=with
unscrew|unscrews|unscrewed|unscrewing ; preps=with from
replace|replaces|replaced|replacing ; preps=with
""")
_table("diy", ACTION, APPLY, """
insert|inserts|inserted|inserting ; preps=into in
spray|sprays|sprayed|spraying ; preps=on onto
apply|applies|applied|applying ; preps=to on
hang|hangs|hung|hanging ; preps=on
plant|plants|planted|planting ; preps=in ; key=planting
fill|fills|filled|filling ; preps=with
""")
_table("diy", ATTRIBUTE, "condition", """
new
loose
dirty
broken
""", salience=0.5)

_table("open", OBJECT, "person", """
person/people
man/men, guy/guys ; parent=person
woman/women, lady/ladies ; parent=person
girl/girls ; parent=person
boy/boys ; parent=person
child/children, kid/kids ; parent=person
player/players ; parent=person
chef/chefs ; parent=person
singer/singers ; parent=person
baby/babies ; parent=person
reporter/reporters, journalist/journalists ; parent=person
host/hosts, presenter/presenters ; parent=person
dancer/dancers ; parent=person
student/students ; parent=person
athlete/athletes ; parent=person
gymnast/gymnasts ; parent=person
surfer/surfers ; parent=person
skier/skiers ; parent=person
model/models ; parent=person
actor/actors, actress/actresses ; parent=person
""")
_table("open", OBJECT, "animal", """
animal/animals
dog/dogs, puppy/puppies ; parent=animal
cat/cats, kitten/kittens ; parent=animal
horse/horses ; parent=animal
bird/birds ; parent=animal
monkey/monkeys ; parent=animal
elephant/elephants ; parent=animal
cow/cows ; parent=animal
lion/lions ; parent=animal
panda/pandas ; parent=animal
rabbit/rabbits ; parent=animal
duck/ducks ; parent=animal
tiger/tigers ; parent=animal
""")
_table("open", OBJECT, "vehicle", """
vehicle/vehicles
motorcycle/motorcycles, motorbike/motorbikes ; parent=vehicle
truck/trucks ; parent=vehicle
bus/buses ; parent=vehicle
boat/boats ; parent=vehicle
train/trains ; parent=vehicle
airplane/airplanes, plane/planes ; parent=vehicle
skateboard/skateboards
""")
_table("open", OBJECT, "thing", """
ball/balls ; key=sports ball
guitar/guitars
microphone/microphones, mic/mics
phone/phones, cellphone/cellphones
piano/pianos
food
computer/computers, laptop/laptops
camera/cameras
drum/drums
makeup
hair
video game/video games
book/books
toy/toys
violin/violins
hat/hats
dress/dresses
racket/rackets
bottle/bottles
cup/cups
surfboard/surfboards
flag/flags
rope/ropes
kite/kites
""")
_table("open", OBJECT, "sport", """
soccer
basketball
tennis
football
volleyball
baseball
golf
hockey
""")
_table("open", OBJECT, "place", """
room/rooms ; preps=in
street/streets, road/roads ; preps=on down along
stage/stages ; preps=on
kitchen/kitchens ; preps=in
field/fields ; preps=on in
studio/studios ; preps=in
beach/beaches ; preps=on
pool/pools, swimming pool/swimming pools ; preps=in
park/parks ; preps=in
gym/gyms ; preps=in
court/courts ; preps=on
track/tracks ; preps=on around
snow ; preps=in through
house/houses ; preps=in
classroom/classrooms ; preps=in
lake/lakes, river/rivers ; preps=in on
forest/forests, woods ; preps=in through
city/cities ; preps=in through
mountain/mountains, hill/hills ; preps=on down
garage/garages ; preps=in
""", salience=0.7)
_table("open", ACTION, HANDLE, """
play|plays|played|playing ; preps=on in
ride|rides|rode|riding ; preps=down on along
talk|talks|talked|talking, speak|speaks|spoke|speaking ; preps=in on
sing|sings|sang|singing ; preps=on in
dance|dances|danced|dancing ; preps=on in
hold|holds|held|holding ; preps=in on
drive|drives|drove|driving ; preps=down on along
eat|eats|ate|eating ; preps=in on
show|shows|showed|showing ; preps=in
walk|walks|walked|walking ; preps=down on along through
run|runs|ran|running ; preps=down on along around
swim|swims|swam|swimming ; preps=in
throw|throws|threw|throwing ; preps=on in
jump|jumps|jumped|jumping ; preps=on in
kick|kicks|kicked|kicking ; preps=on
fix|fixes|fixed|fixing, repair|repairs|repaired|repairing ; preps=in
pick up|picks up|picked up|picking up ; preps=in on
carry|carries|carried|carrying ; preps=down through in
watch|watches|watched|watching ; preps=in
climb|climbs|climbed|climbing ; preps=in
surf|surfs|surfed|surfing ; preps=on in
ski|skis|skied|skiing ; preps=down on
feed|feeds|fed|feeding ; preps=in
laugh|laughs|laughed|laughing ; preps=in on
wave|waves|waved|waving ; preps=on in
fight|fights|fought|fighting ; preps=in on
""")
_table("open", ATTRIBUTE, "age", """
young
old
""", salience=0.5)

# which attribute tables may describe which object tables
ATTRIBUTES_FOR_ROLE: dict[str, tuple[str, ...]] = {
    "solid": ("state", "size", "color"),
    "liquid": ("temperature",),
    "container": ("size", "temperature"),
    "shape": ("size",),
    "item": ("condition",),
    "person": ("age",),
    "animal": ("size", "color"),
    "vehicle": ("color",),
    "thing": ("color",),
}

FILLERS = ("so", "okay", "now", "you know", "um", "alright", "just", "basically", "like", "right")
CHATTER = (
    "hey guys welcome back to my channel",
    "don't forget to like and subscribe",
    "this is one of my favorite things to do",
    "thank you so much for watching",
    "i'll see you in the next video",
    "let me know in the comments what you think",
    "my family loves this",
    "i got all of this at the store last week",
    "it's really easy you'll see",
    "make sure you check out my other videos",
    "that's it for today",
    "this is going to be so good",
)
# the stop words HowTo100M's caption.json drops (raw_caption.json keeps them)
STOP_WORDS = frozenset("""
a an the and or but if then so as at by for from in into of off on onto out over to up down with
about after again all am any are be been being both can could did do does doing don't each few
had has have having he her here hers him his how i i'll i'm is it it's its just let let's me more
most my no nor not now once only other our ours own same she should some such than that that's
their theirs them there these they this those through too under until very was we we're were what
when where which while who whom why will would you you'll you're your yours um okay alright like
right basically really
""".split())


def _parse_noun(text: str) -> Noun:
    singular, _, plural = text.partition("/")
    return Noun(singular.strip(), plural.strip() or None)


def _parse_verb(text: str) -> Verb:
    parts = [p.strip() for p in text.split("|")]
    if len(parts) != 4:
        raise ValueError(f"verb entry '{text}' must have four forms base|third|past|ing")
    return Verb(*parts)


def _build_vocabulary() -> dict[str, Concept]:
    vocabulary: dict[str, Concept] = {}
    for domain, kind, role, salience, text in _TABLES:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        for rank, line in enumerate(lines):
            words, *option_parts = [part.strip() for part in line.split(";")]
            options = dict(part.split("=", 1) for part in option_parts)
            synonyms = [s.strip() for s in words.split(", ")]
            if kind == OBJECT:
                forms: tuple = tuple(_parse_noun(s) for s in synonyms)
                first = forms[0].singular
            elif kind == ACTION:
                forms = tuple(_parse_verb(s) for s in synonyms)
                first = forms[0].base
            else:
                forms = tuple(synonyms)
                first = forms[0]
            key = options.get("key", first).replace(" ", "_")
            if key in vocabulary:
                raise ValueError(f"concept key '{key}' is defined twice (table {domain}/{role})")
            vocabulary[key] = Concept(
                key=key, kind=kind, role=role, forms=forms, rank=rank, domain=domain,
                parent=options.get("parent"), preps=tuple(options.get("preps", "").split()),
                salience=salience, group=options.get("group"),
            )
    for concept in vocabulary.values():
        if concept.parent is not None and concept.parent not in vocabulary:
            raise ValueError(f"concept '{concept.key}' has unknown parent '{concept.parent}'")
    return vocabulary


VOCABULARY: dict[str, Concept] = _build_vocabulary()


def concepts_of(domain: str | None = None, kind: str | None = None, role: str | None = None) -> list[Concept]:
    """The concepts of one table (or several), most frequent first."""
    found = [c for c in VOCABULARY.values()
             if (domain is None or c.domain == domain) and (kind is None or c.kind == kind)
             and (role is None or c.role == role)]
    return sorted(found, key=lambda c: c.rank)


def zipf_weights(count: int, exponent: float) -> np.ndarray:
    """Normalised Zipf weights ``1 / (rank + 1) ** exponent`` for ranks 0..count-1."""
    weights = 1.0 / np.arange(1, count + 1, dtype=np.float64) ** exponent
    return weights / weights.sum()


def surface_index() -> dict[str, set[str]]:
    """Every word form (lower case, multi-word forms included) -> the concept keys it can name."""
    index: dict[str, set[str]] = {}
    for concept in VOCABULARY.values():
        for form in concept.forms:
            if isinstance(form, Noun):
                words = [form.singular] + ([form.plural] if form.plural else [])
            elif isinstance(form, Verb):
                words = [form.base, form.third, form.past, form.ing]
            else:
                words = [form]
            for word in words:
                index.setdefault(word, set()).add(concept.key)
    return index


# --- realisation helpers ----------------------------------------------------------------------


def _choose(rng: np.random.Generator, options: tuple | list, weights: list[float] | None = None):
    if weights is not None:
        total = sum(weights)
        return options[int(rng.choice(len(options), p=[w / total for w in weights]))]
    return options[int(rng.integers(len(options)))]


def _synonym(concept: Concept, rng: np.random.Generator):
    """A synonym, the first form most often (weights 1, 1/2, 1/3, ...)."""
    return _choose(rng, concept.forms, [1.0 / (i + 1) for i in range(len(concept.forms))])


def _article(word: str) -> str:
    vowel = word[0] in "aeiou" and not word.startswith(("uni", "use", "eu", "one"))
    return "an" if vowel else "a"


def _attribute_word(key: str | None, rng: np.random.Generator) -> str | None:
    return None if key is None else _synonym(VOCABULARY[key], rng)


def noun_phrase(key: str, rng: np.random.Generator, *, determiner: str = "auto",
                plural: bool | None = None, attribute: str | None = None) -> str:
    """A noun phrase for concept ``key``: "the chopped tomatoes", "an onion", "some salt", "garlic".

    ``determiner`` is "auto" (drawn), "definite", "indefinite" or "none"; mass nouns never get "a".
    """
    noun = _synonym(VOCABULARY[key], rng)
    if plural is None:
        plural = noun.plural is not None and rng.random() < 0.45
    word = noun.plural if plural and noun.plural else noun.singular
    countable_singular = noun.plural is not None and not plural
    adjective = _attribute_word(attribute, rng)
    head = f"{adjective} {word}" if adjective else word
    if determiner == "auto":
        determiner = _choose(rng, ("definite", "indefinite", "none"), [0.55, 0.2, 0.25])
    if determiner == "none" and countable_singular:
        determiner = "definite"
    if determiner == "definite":
        return f"the {head}"
    if determiner == "indefinite":
        return f"{_article(head)} {head}" if countable_singular else f"some {head}"
    return head


def _place_phrase(event: Event, rng: np.random.Generator) -> str:
    """"into the pan", "with a knife", "into rings", "down the street"."""
    place = VOCABULARY[event.place]
    action = VOCABULARY[event.action]
    if place.role in ("tool", "shape"):
        prep = place.preps[0]
    else:
        shared = [p for p in action.preps if p in place.preps] if place.preps else list(action.preps)
        prep = _choose(rng, shared or list(place.preps) or list(action.preps) or ["in"])
    if place.role == "shape":
        return f"{prep} {noun_phrase(event.place, rng, determiner='none', plural=True)}"
    determiner = "indefinite" if place.role == "tool" and rng.random() < 0.6 else "definite"
    return f"{prep} {noun_phrase(event.place, rng, determiner=determiner, plural=False)}"


def _object_list(event: Event, rng: np.random.Generator, determiner: str = "auto") -> str:
    phrases = [noun_phrase(key, rng, determiner=determiner, attribute=event.attribute if i == 0 else None)
               for i, key in enumerate(event.objects)]
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _verb(key: str, rng: np.random.Generator) -> Verb:
    return _synonym(VOCABULARY[key], rng)


# --- realisers, one per text style --------------------------------------------------------------


def instruction(event: Event, rng: np.random.Generator) -> str:
    """A YouCook2-style imperative caption: "add the chopped tomatoes to the pan and stir"."""
    frame = VOCABULARY[event.action].role
    words = [_verb(event.action, rng).base]
    if event.objects:
        words.append(_object_list(event, rng))
    if frame == COMBINE and len(event.objects) > 1 and rng.random() < 0.3:
        words.append("together")
    if event.place is not None and rng.random() < 0.75:
        words.append(_place_phrase(event, rng))
    elif frame == COOK and rng.random() < 0.35:
        words.append(_choose(rng, ("for a few minutes", "for 5 minutes", "for 10 minutes", "until golden",
                                   "until soft", "for a while")))
    if event.second_action is not None and rng.random() < 0.8:
        words.append(f"and {_verb(event.second_action, rng).base}")
        if rng.random() < 0.3:
            words.append("well")
    return " ".join(words)


def step_label(event: Event) -> str:
    """A CrossTask-style step description in canonical words: "pour milk", "add onion"."""
    verb = VOCABULARY[event.action].forms[0].base
    if not event.objects:
        return verb
    return f"{verb} {VOCABULARY[event.objects[0]].forms[0].singular}"


def segment_label(event: Event) -> str:
    """A COIN-style step label: "put the steak on the grill", "loosen the nut"."""
    words = [VOCABULARY[event.action].forms[0].base]
    if event.objects:
        words.append("the " + " and the ".join(VOCABULARY[k].forms[0].singular for k in event.objects))
    if event.place is not None:
        place = VOCABULARY[event.place]
        action = VOCABULARY[event.action]
        if place.role in ("tool", "shape"):
            prep = place.preps[0]
        else:
            shared = [p for p in action.preps if p in place.preps]
            prep = (shared or list(action.preps) or ["in"])[0]
        noun = place.forms[0]
        words.append(f"{prep} {noun.plural}" if place.role == "shape" else f"{prep} the {noun.singular}")
    return " ".join(words)


def _subject(event: Event, rng: np.random.Generator, generic: bool) -> tuple[str, bool]:
    """The agent (one person or animal) as a noun phrase, and whether it is plural."""
    agent = VOCABULARY[event.agent]
    if generic and agent.parent is not None:
        if rng.random() < 0.5:
            return "someone", False
        return noun_phrase(agent.parent, rng, determiner="indefinite", plural=False), False
    phrase = noun_phrase(event.agent, rng, determiner="indefinite", plural=False,
                         attribute=event.agent_attribute if rng.random() < 0.5 else None)
    return phrase, False


def description(event: Event, rng: np.random.Generator) -> str:
    """An MSR-VTT-style caption mentioning a random subset of the event:
    "a man is riding a bike down the street", "someone rides a bicycle", "a guy riding outside"."""
    subject, plural = _subject(event, rng, generic=rng.random() < 0.2)
    verb = _verb(event.action, rng)
    style = _choose(rng, ("progressive", "simple", "bare", "there"), [0.5, 0.2, 0.15, 0.15])
    if style == "progressive":
        words = [subject, "are" if plural else "is", verb.ing]
    elif style == "simple":
        words = [subject, verb.base if plural else verb.third]
    elif style == "bare":
        words = [subject, verb.ing]
    else:
        words = ["there", "are" if plural else "is", subject, verb.ing]
    if event.objects and rng.random() < 0.75:
        words.append(_object_list(event, rng, determiner=_choose(rng, ("definite", "indefinite"), [0.3, 0.7])))
    if event.place is not None and rng.random() < 0.55:
        words.append(_place_phrase(event, rng))
    if event.second_action is not None and rng.random() < 0.35:
        words.append(f"and {verb_form(event.second_action, rng, style, plural)}")
    return " ".join(words)


def verb_form(key: str, rng: np.random.Generator, style: str, plural: bool) -> str:
    """The verb of ``key`` in the tense of a description style."""
    verb = _verb(key, rng)
    if style == "simple":
        return verb.base if plural else verb.third
    return verb.ing


_MALE = frozenset({"man", "boy", "actor"})
_FEMALE = frozenset({"woman", "girl", "model", "dancer"})


def pronoun_for(agent: str, rng: np.random.Generator) -> str:
    """How a paragraph refers back to its agent: "he", "she", "it" (animals) or "the <noun>"."""
    concept = VOCABULARY[agent]
    if agent in _MALE:
        return "he"
    if agent in _FEMALE:
        return "she"
    if concept.role == "animal":
        return "it"
    return _choose(rng, ("he", "she", f"the {concept.forms[0].singular}"))


def narrative(event: Event, rng: np.random.Generator, first: bool, pronoun: str) -> str:
    """An ActivityNet-style sentence; after the first, the agent is ``pronoun`` (see ``pronoun_for``).

    "A young woman is seen playing a guitar in a room." / "She then sings."
    """
    verb = _verb(event.action, rng)
    if first:
        subject, plural = _subject(event, rng, generic=False)
        opener = _choose(rng, ("is seen", "is shown", "is"), [0.4, 0.2, 0.4])
        if plural:
            opener = opener.replace("is", "are")
        words = [subject, opener, verb.ing]
    else:
        plural = False
        connector = _choose(rng, ("then", "continues", "", "", "finally"))
        if connector == "continues":
            words = [pronoun, "continues", verb.ing]
        else:
            words = [pronoun] + ([connector] if connector else []) + [verb.third]
    if event.objects:
        words.append(_object_list(event, rng, determiner=_choose(rng, ("definite", "indefinite"))))
    if event.place is not None and (first or rng.random() < 0.4):
        words.append(_place_phrase(event, rng))
    if event.second_action is not None and rng.random() < 0.5:
        words.append(f"and {verb_form(event.second_action, rng, 'simple', plural)}")
    sentence = " ".join(words)
    return sentence[0].upper() + sentence[1:] + "."


def speech(event: Event, rng: np.random.Generator, distractor: str | None = None) -> str:
    """HowTo100M-style narration of a step: fillers, partial mentions, lower case, no punctuation.

    ``distractor``, when given, is a concept mentioned but not shown ("you can also use ...").
    """
    verb = _verb(event.action, rng)
    pattern = _choose(rng, ("going", "next", "then", "just", "object", "verb"), [0.25, 0.2, 0.2, 0.15, 0.1, 0.1])
    obj = _object_list(event, rng) if event.objects else "it"
    if pattern == "going":
        words = [_choose(rng, ("so now", "now", "so", "okay so")), "we're going to", verb.base, obj]
    elif pattern == "next":
        words = [_choose(rng, ("okay", "alright", "next")), "you want to", verb.base, obj]
    elif pattern == "then":
        words = ["and then", _choose(rng, ("you", "i", "we")), verb.base, obj]
    elif pattern == "just":
        words = ["just", verb.base, obj]
    elif pattern == "object":  # only the object is named
        words = [_choose(rng, ("here's", "now", "a little bit of")), obj]
    else:  # only the verb is named
        words = [_choose(rng, ("and", "now", "so")), verb.base, "it",
                 _choose(rng, ("like this", "a little", "really well"))]
    if event.place is not None and pattern not in ("object", "verb") and rng.random() < 0.5:
        words.append(_place_phrase(event, rng))
    if rng.random() < 0.3:
        words.append(_choose(rng, FILLERS))
    if distractor is not None:
        words += ["you can also use", noun_phrase(distractor, rng, determiner="none"), "if you want"]
    return " ".join(words)
