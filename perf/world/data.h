/*
 * data.h: the fixed tables of the simulated market: technology categories and their vocabulary, ~165 real
 * technology names, NAICS-like industries, weighted countries and their regions, name syllables, and the
 * 30 product archetypes with their seller prompts. Read-only, any thread.
 */
#ifndef LP_WORLD_DATA_H
#define LP_WORLD_DATA_H

#include <stddef.h>
#include <stdint.h>

#define WD_NONE 0xFF

/* Sectors: groups of industries that a product favours (bit masks). */
enum {
  WD_SEC_SOFTWARE = 1 << 0, WD_SEC_FINANCE = 1 << 1, WD_SEC_RETAIL = 1 << 2, WD_SEC_HEALTH = 1 << 3,
  WD_SEC_MANUFACTURING = 1 << 4, WD_SEC_SERVICES = 1 << 5, WD_SEC_EDUCATION = 1 << 6,
  WD_SEC_LOGISTICS = 1 << 7, WD_SEC_MEDIA = 1 << 8, WD_SEC_HOSPITALITY = 1 << 9, WD_SEC_ENERGY = 1 << 10,
  WD_SEC_REALESTATE = 1 << 11, WD_SEC_TELECOM = 1 << 12, WD_SEC_PUBLIC = 1 << 13, WD_SEC_ALL = 0x3FFF
};

/* Regions of countries (bit masks); a product sells into some of them. */
enum {
  WD_REG_NA = 1 << 0, WD_REG_UK = 1 << 1, WD_REG_DACH = 1 << 2, WD_REG_NORDICS = 1 << 3,
  WD_REG_EU = 1 << 4, /* continental Europe outside DACH and the Nordics */
  WD_REG_APAC = 1 << 5, WD_REG_LATAM = 1 << 6, WD_REG_MEA = 1 << 7,
  WD_REG_EUROPE = WD_REG_UK | WD_REG_DACH | WD_REG_NORDICS | WD_REG_EU, WD_REG_ALL = 0xFF
};

typedef struct wd_category {
  const char *name;          /* "billing" */
  const char *words[6];      /* keywords and phrases a text about the category uses; NULL-terminated */
  const char *pains[5];      /* reasons to buy, as verb phrases ("cut failed payments") */
  const char *roles[4];      /* job titles hired when the category is in play */
} wd_category;

typedef struct wd_tech {
  const char *name;          /* lower-case, as the analyzer's technology table spells it */
  uint8_t cat;
  uint8_t base_pct;          /* chance (percent) that a company runs it, before size and sector */
  uint16_t sectors;          /* sectors where it is common (others: a third of base_pct) */
} wd_tech;

typedef struct wd_industry {
  const char *naics;         /* "511210" */
  const char *title;         /* "Software Publishers" */
  const char *segment;       /* a word used in text and prompts: "SaaS" */
  uint16_t sector;
  uint8_t weight;
} wd_industry;

typedef struct wd_country {
  const char *code;          /* ISO 3166-1 alpha-2 */
  const char *tlds[3];       /* NULL-terminated */
  const char *cities[3];
  const char *legal;         /* legal-form suffix of names, or NULL */
  uint8_t region;
  uint16_t weight;           /* per mille */
} wd_country;

typedef struct wd_product {
  const char *name;          /* "usage-based billing API" */
  uint8_t cat;
  const char *replaces[4];   /* tools it displaces: removing one is a buying trigger; NULL-terminated */
  const char *adds;          /* the tool a buyer is seen running afterwards, or NULL */
  const char *excludes;      /* a company on this tool never buys ("not on X"), or NULL */
  uint16_t sectors;          /* ideal sectors (soft) */
  uint32_t emp_min, emp_max; /* hard size range */
  uint8_t regions;           /* hard region mask */
  const char *prompts[4];    /* what a seller of this product types */
} wd_product;

enum { WD_CAT_PAYMENTS, WD_CAT_BILLING, WD_CAT_CRM, WD_CAT_SALES, WD_CAT_ANALYTICS, WD_CAT_DATA, WD_CAT_HOSTING,
       WD_CAT_DEVOPS, WD_CAT_OBSERVABILITY, WD_CAT_SUPPORT, WD_CAT_ECOMMERCE, WD_CAT_AUTH, WD_CAT_SECURITY,
       WD_CAT_LANG, WD_CAT_MARKETING, WD_CAT_HR, WD_CAT_COLLAB, WD_CAT_CMS, WD_CAT_FINANCE, WD_CAT_COMMS,
       WD_CAT_SEARCH, WD_CAT_COUNT };

extern const wd_category wd_categories[WD_CAT_COUNT];
extern const wd_tech wd_techs[];
extern const unsigned wd_n_techs;
extern const wd_industry wd_industries[];
extern const unsigned wd_n_industries;
extern const wd_country wd_countries[];
extern const unsigned wd_n_countries;
extern const wd_product wd_products[];
extern const unsigned wd_n_products;

/* Name parts: syllables (ASCII), German syllables with their ASCII spelling, and name suffixes by sector. */
extern const char *const wd_syllables[];
extern const unsigned wd_n_syllables;
extern const char *const wd_de_syllables[][2];
extern const unsigned wd_n_de_syllables;
extern const char *const wd_name_words[];
extern const unsigned wd_n_name_words;

/* Vocabulary of texts. */
extern const char *const wd_generic_roles[];
extern const unsigned wd_n_generic_roles;
extern const char *const wd_investors[];
extern const unsigned wd_n_investors;
extern const char *const wd_rounds[];
extern const unsigned wd_n_rounds;
extern const char *const wd_events[];
extern const unsigned wd_n_events;
extern const char *const wd_news_sites[];
extern const unsigned wd_n_news_sites;
extern const char *const wd_first_names[];
extern const unsigned wd_n_first_names;
extern const char *const wd_last_names[];
extern const unsigned wd_n_last_names;
extern const char *const wd_b2c_domains[];
extern const unsigned wd_n_b2c_domains;

/* Index of a technology by name, or -1. Any thread. */
int wd_tech_find(const char *name);

#endif
