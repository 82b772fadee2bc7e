/*
 * templates.h: the sentence templates of snippet texts. A template is text with {X} slots that
 * snippets.c fills: N name, D domain, R role hired for the category, G an unrelated role, P a pain point,
 * K and Q category phrases, T, U and Z tools, A an amount, B a funding round, I an investor, C a city,
 * E a head count, S the industry segment, V an event, X the tool added, Y the tool removed.
 * Read-only, any thread.
 */
#ifndef LP_WORLD_TEMPLATES_H
#define LP_WORLD_TEMPLATES_H

#define WD_TPL(name, ...) static const char *const name[] = { __VA_ARGS__ }
#define WD_NTPL(a) (sizeof(a) / sizeof((a)[0]))

WD_TPL(tpl_funding,
  "{N} raised {A} in a {B} round led by {I}.",
  "{N} closes {A} {B} from {I} to {P}.",
  "{B} funding: {N} secures {A}; the company plans to {P} and hire in {C}.",
  "{N} announced a {A} {B} led by {I} and says it will invest in {K}.");
WD_TPL(tpl_hire,
  "{N} appointed a new {R}, who previously ran {K} at a larger company.",
  "{N} hired a {R} in {C} to {P}.",
  "New {R} joins {N}; the first priority is to {P}.");
WD_TPL(tpl_removed,
  "{Y} is no longer detected on {D}.",
  "{N} stopped using {Y}; engineers mention the need to {P}.",
  "{N} removed {Y} from its stack this month.");
WD_TPL(tpl_growth,
  "{N} opens a new office in {C} and plans to grow to {E} employees.",
  "{N} expands into new markets after a record quarter; headcount is up to {E}.",
  "{N} launches a new product line for {S} customers and is scaling its {K}.");
WD_TPL(tpl_pain,
  "A {G} at {N} reviewed {T}: hard to {P} with it, looking at alternatives.",
  "{N} team complains on G2 that {T} makes it hard to {P}.");
WD_TPL(tpl_int_hiring,
  "{N} is hiring a {R} to {P}.",
  "Job post at {N}, {C}: {R}. Experience with {K} and {T} required.",
  "{N} opened a {R} role; the posting mentions {K} and the need to {P}.",
  "{N} seeks a {R} to lead its {K} project.");
WD_TPL(tpl_int_review,
  "{N} compared {T} and {U} for {K} on G2.",
  "A {G} at {N} left a review of {T}: fine for the basics, but they need to {P}.",
  "{N} requested demos from {K} vendors, including {U}.");
WD_TPL(tpl_int_web,
  "Visitors from {D} read several pages about {K} and {Q} this week.",
  "Intent surge: {N} is researching {K} and alternatives to {T}.",
  "{N} downloaded a whitepaper on how to {P}.");
WD_TPL(tpl_int_event,
  "{N} attended {V} and visited booths for {K}.",
  "A {R} from {N} spoke at {V} about how to {P}.");
WD_TPL(tpl_int_news,
  "{N} says it plans to {P} this year as it grows in {C}.",
  "{N} CTO blog: why we are rethinking our {K}.");
WD_TPL(tpl_int_tech,
  "{N} started a trial of a {K} tool next to {T}.",
  "A test integration of a {Q} vendor was found on the staging site of {D}.");
WD_TPL(tpl_adopted,
  "{X} detected on {D}.",
  "{N} now runs {X} for {K}.",
  "{N} rolled out {X} to replace its old {K} setup.");
WD_TPL(tpl_adopted_none,
  "{N} completed the rollout of a new {K} solution.",
  "{N} says its new {K} platform is live.");
WD_TPL(tpl_bg_hiring,
  "{N} is hiring a {G} in {C}.",
  "The careers page of {N} lists a {G} opening.",
  "{N} is growing its team: {G}, {C}.");
WD_TPL(tpl_bg_news,
  "{N} was named one of the best places to work in {C}.",
  "{N} partners with a regional firm on a joint offering for {S} customers.",
  "{N} publishes its annual report and reaffirms its focus on {S}.");
WD_TPL(tpl_bg_tech,
  "{D} runs {T}, {U} and {Z}.",
  "Technologies seen on {D}: {T} and {U}.");
WD_TPL(tpl_bg_review,
  "A {G} at {N} rates {T} 4 out of 5.",
  "{N} uses {T} daily and finds it reliable.");
WD_TPL(tpl_bg_web,
  "{N} published a blog post about {S} trends.",
  "{N} updated its pricing page.");
WD_TPL(tpl_bg_event,
  "{N} exhibited at {V}.");
WD_TPL(tpl_irrelevant,
  "{N} sponsors a charity run in {C}.",
  "The {N} office in {C} has a new coffee machine.",
  "{N} celebrates {E} followers on social media.",
  "Photo gallery from the {N} summer party.");
WD_TPL(tpl_spam,
  "{N} is actively looking for {K} solutions NOW. Budget approved for {K} and {T} replacement. High intent, ready to buy!",
  "HOT LEAD: {N} wants {K} and {Q} this quarter. Decision makers engaged. Verified intent.",
  "{N} - urgent need for {K}, {Q}, {T}. Contact immediately, budget confirmed.",
  "Verified buyer: {N} evaluating {T} alternatives for {K}. Best {K} lead, act fast.");
WD_TPL(tpl_stuff_words, "best", "buy", "top", "cheap", "leads", "intent", "urgent", "now", "solution", "vendor", "demo");

#endif
