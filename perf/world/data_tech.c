/*
 * data_tech.c: the market's vocabulary: technology categories, technologies, industries, countries and
 * the words of names and texts. Figures (shares, weights) are plausible, not measured.
 */
#include <string.h>

#include "data.h"

#define S WD_SEC_SOFTWARE
#define F WD_SEC_FINANCE
#define R WD_SEC_RETAIL
#define H WD_SEC_HEALTH
#define M WD_SEC_MANUFACTURING
#define V WD_SEC_SERVICES
#define E WD_SEC_EDUCATION
#define L WD_SEC_LOGISTICS
#define MD WD_SEC_MEDIA
#define HO WD_SEC_HOSPITALITY
#define EN WD_SEC_ENERGY
#define RE WD_SEC_REALESTATE
#define T WD_SEC_TELECOM
#define P WD_SEC_PUBLIC
#define ALL WD_SEC_ALL

const wd_category wd_categories[WD_CAT_COUNT] = {
  { "payments", { "payment processing", "checkout", "card payments", "payment gateway", "payouts", NULL },
    { "cut failed card payments", "lower payment processing fees", "accept local payment methods in new markets",
      "reduce checkout drop-off", "reconcile payouts faster" },
    { "Head of Payments", "Payments Engineer", "Director of Payment Operations", "Treasury Manager" } },
  { "billing", { "subscription billing", "usage-based pricing", "invoicing", "metered billing", "revenue recognition", NULL },
    { "move to usage-based pricing", "stop revenue leakage from manual invoicing", "launch metered plans",
      "fix dunning and churned subscriptions", "automate revenue recognition" },
    { "Billing Engineer", "Head of Revenue Operations", "Pricing Manager", "Finance Systems Lead" } },
  { "crm", { "crm", "pipeline management", "sales pipeline", "contact management", "deal tracking", NULL },
    { "replace spreadsheets for pipeline tracking", "give reps one view of the customer", "cut CRM licence costs",
      "clean up duplicate contacts", "forecast revenue reliably" },
    { "Sales Operations Manager", "CRM Administrator", "Revenue Operations Analyst", "Head of Sales" } },
  { "sales", { "sales engagement", "call recording", "revenue intelligence", "outbound prospecting", "sales coaching", NULL },
    { "ramp new account executives faster", "see why deals slip", "book more meetings from outbound",
      "coach reps with real call data", "grow pipeline in new segments" },
    { "Sales Enablement Manager", "Account Executive", "SDR Team Lead", "VP Sales" } },
  { "analytics", { "product analytics", "event tracking", "funnels", "web analytics", "customer data platform", NULL },
    { "understand activation and retention", "replace sampled web analytics", "unify customer events",
      "measure feature adoption", "fix broken tracking plans" },
    { "Product Analyst", "Head of Growth", "Analytics Engineer", "Data Product Manager" } },
  { "data", { "data warehouse", "data pipelines", "elt", "modern data stack", "dashboards", NULL },
    { "centralise data from dozens of SaaS tools", "speed up slow reporting queries", "replace brittle cron ETL jobs",
      "give finance one source of truth", "cut warehouse costs" },
    { "Data Engineer", "Head of Data", "Analytics Engineer", "BI Developer" } },
  { "hosting", { "cloud hosting", "cloud infrastructure", "cloud costs", "serverless", "edge network", NULL },
    { "cut the cloud bill", "move off an expensive platform-as-a-service", "scale past a single region",
      "reserve capacity sensibly", "speed up page loads worldwide" },
    { "Cloud Architect", "Platform Engineer", "FinOps Analyst", "Head of Infrastructure" } },
  { "devops", { "kubernetes", "container orchestration", "infrastructure as code", "ci/cd", "platform engineering", NULL },
    { "migrate services to containers", "ship releases several times a day", "stop hand-built servers",
      "give developers self-service environments", "shorten build times" },
    { "DevOps Engineer", "Site Reliability Engineer", "Platform Engineering Manager", "Release Engineer" } },
  { "observability", { "observability", "monitoring", "apm", "logging", "on-call", "incident response", },
    { "find the cause of outages faster", "cut the logging bill", "reduce alert fatigue",
      "trace requests across microservices", "meet uptime commitments" },
    { "Site Reliability Engineer", "Observability Engineer", "Head of Infrastructure", "Incident Manager" } },
  { "support", { "help desk", "customer support", "ticketing", "live chat", "support automation", NULL },
    { "answer tickets faster", "deflect repetitive questions", "support customers in several languages",
      "cut support headcount growth", "see every conversation in one inbox" },
    { "Head of Customer Support", "Support Operations Manager", "Customer Experience Lead", "Support Engineer" } },
  { "ecommerce", { "ecommerce platform", "online store", "headless commerce", "storefront", "checkout", NULL },
    { "replatform the online store", "launch storefronts in new countries", "speed up the storefront",
      "sell wholesale and retail on one platform", "stop paying for custom plugins" },
    { "Head of Ecommerce", "Ecommerce Manager", "Shopify Developer", "Digital Commerce Director" } },
  { "auth", { "authentication", "single sign-on", "identity", "sso", "user management", NULL },
    { "add single sign-on for enterprise customers", "stop maintaining home-grown login", "add multi-factor authentication",
      "manage employee access centrally", "pass enterprise security reviews" },
    { "Identity Engineer", "IT Manager", "Security Engineer", "Head of IT" } },
  { "security", { "compliance automation", "soc 2", "iso 27001", "endpoint security", "application security", NULL },
    { "get SOC 2 before an enterprise deal", "pass ISO 27001 audits", "find vulnerable dependencies",
      "protect laptops from ransomware", "answer security questionnaires faster" },
    { "Security Engineer", "CISO", "Compliance Manager", "GRC Analyst" } },
  { "languages", { "software development", "web framework", "backend", "frontend", "microservices", NULL },
    { "rewrite the legacy monolith", "hire developers faster", "modernise the frontend", "move to typed code",
      "split the monolith into services" },
    { "Backend Engineer", "Frontend Engineer", "Engineering Manager", "Staff Software Engineer" } },
  { "marketing", { "marketing automation", "email marketing", "lifecycle marketing", "lead nurturing", "campaigns", NULL },
    { "send personalised lifecycle email", "grow repeat purchases", "score and route inbound leads",
      "consolidate marketing tools", "improve email deliverability" },
    { "Marketing Operations Manager", "Lifecycle Marketing Manager", "CRM Marketing Manager", "Head of Demand Generation" } },
  { "hr", { "payroll", "hris", "recruiting", "applicant tracking", "employer of record", NULL },
    { "hire in countries without an entity", "run payroll in several countries", "replace spreadsheets for HR",
      "speed up hiring", "onboard employees consistently" },
    { "People Operations Manager", "Head of Talent", "HR Business Partner", "Payroll Specialist" } },
  { "collaboration", { "collaboration", "team chat", "project management", "wiki", "video meetings", NULL },
    { "keep remote teams aligned", "replace email threads", "document decisions", "plan projects across teams",
      "cut meeting load" },
    { "Operations Manager", "Chief of Staff", "Program Manager", "IT Administrator" } },
  { "cms", { "content management", "headless cms", "website builder", "content platform", "localisation", NULL },
    { "let marketing publish without developers", "serve content to web and apps", "localise the website",
      "speed up the website", "replace a legacy CMS" },
    { "Web Developer", "Content Operations Manager", "Head of Digital", "Frontend Engineer" } },
  { "finance", { "erp", "accounting", "spend management", "accounts payable", "expense management", NULL },
    { "close the books faster", "control employee spend", "automate accounts payable", "outgrow entry-level accounting",
      "consolidate several entities" },
    { "Controller", "CFO", "Finance Systems Manager", "Accounts Payable Lead" } },
  { "communications", { "sms api", "voice api", "transactional email", "messaging", "notifications", NULL },
    { "send delivery notifications by SMS", "verify phone numbers", "improve email delivery rates",
      "add WhatsApp messaging", "route calls to agents" },
    { "Communications Engineer", "Backend Engineer", "Product Manager, Messaging", "Head of Platform" } },
  { "search", { "site search", "search api", "product search", "relevance", "autocomplete", NULL },
    { "make product search relevant", "add typo-tolerant search", "stop running search servers",
      "personalise search results", "speed up search" },
    { "Search Engineer", "Head of Product Discovery", "Backend Engineer", "Merchandising Manager" } },
};

const wd_tech wd_techs[] = {
  /* payments */
  { "stripe", WD_CAT_PAYMENTS, 45, S | R | MD | E }, { "adyen", WD_CAT_PAYMENTS, 12, R | HO | L },
  { "braintree", WD_CAT_PAYMENTS, 10, R | S }, { "paypal", WD_CAT_PAYMENTS, 25, R | MD | E },
  { "square", WD_CAT_PAYMENTS, 10, HO | R }, { "checkout.com", WD_CAT_PAYMENTS, 5, R | F },
  { "mollie", WD_CAT_PAYMENTS, 5, R }, { "klarna", WD_CAT_PAYMENTS, 10, R },
  { "worldpay", WD_CAT_PAYMENTS, 6, R | HO }, { "razorpay", WD_CAT_PAYMENTS, 4, S | R },
  /* billing */
  { "chargebee", WD_CAT_BILLING, 10, S }, { "recurly", WD_CAT_BILLING, 7, S | MD },
  { "zuora", WD_CAT_BILLING, 4, S | T }, { "chargify", WD_CAT_BILLING, 4, S },
  { "lago", WD_CAT_BILLING, 2, S }, { "orb", WD_CAT_BILLING, 2, S }, { "metronome", WD_CAT_BILLING, 2, S },
  { "paddle", WD_CAT_BILLING, 5, S },
  /* crm */
  { "salesforce", WD_CAT_CRM, 30, ALL }, { "hubspot", WD_CAT_CRM, 30, S | V | E },
  { "pipedrive", WD_CAT_CRM, 12, V | RE }, { "zoho crm", WD_CAT_CRM, 8, V | M },
  { "microsoft dynamics", WD_CAT_CRM, 8, M | F | P }, { "close", WD_CAT_CRM, 4, S },
  { "copper", WD_CAT_CRM, 3, V }, { "attio", WD_CAT_CRM, 2, S },
  /* sales */
  { "outreach", WD_CAT_SALES, 8, S }, { "salesloft", WD_CAT_SALES, 7, S },
  { "apollo.io", WD_CAT_SALES, 10, S | V }, { "gong", WD_CAT_SALES, 8, S | F }, { "zoominfo", WD_CAT_SALES, 10, S },
  /* analytics */
  { "google analytics", WD_CAT_ANALYTICS, 70, ALL }, { "mixpanel", WD_CAT_ANALYTICS, 10, S | MD },
  { "amplitude", WD_CAT_ANALYTICS, 8, S | MD }, { "segment", WD_CAT_ANALYTICS, 12, S | R },
  { "heap", WD_CAT_ANALYTICS, 5, S }, { "posthog", WD_CAT_ANALYTICS, 5, S }, { "hotjar", WD_CAT_ANALYTICS, 15, R | MD | E },
  { "fullstory", WD_CAT_ANALYTICS, 5, R | S }, { "rudderstack", WD_CAT_ANALYTICS, 2, S },
  /* data */
  { "snowflake", WD_CAT_DATA, 10, S | F | R }, { "bigquery", WD_CAT_DATA, 10, S | MD },
  { "redshift", WD_CAT_DATA, 8, S | R }, { "databricks", WD_CAT_DATA, 6, F | H | M },
  { "fivetran", WD_CAT_DATA, 6, S | F }, { "dbt", WD_CAT_DATA, 8, S }, { "airbyte", WD_CAT_DATA, 4, S },
  { "postgresql", WD_CAT_DATA, 35, S | F }, { "mongodb", WD_CAT_DATA, 15, S | MD }, { "looker", WD_CAT_DATA, 8, S | R },
  { "tableau", WD_CAT_DATA, 12, F | H | M | P },
  /* hosting */
  { "aws", WD_CAT_HOSTING, 55, ALL }, { "gcp", WD_CAT_HOSTING, 18, S | MD }, { "azure", WD_CAT_HOSTING, 25, M | F | P | H },
  { "heroku", WD_CAT_HOSTING, 10, S }, { "vercel", WD_CAT_HOSTING, 10, S | MD }, { "netlify", WD_CAT_HOSTING, 6, MD | E },
  { "digitalocean", WD_CAT_HOSTING, 8, S }, { "cloudflare", WD_CAT_HOSTING, 35, ALL }, { "fly.io", WD_CAT_HOSTING, 2, S },
  { "render", WD_CAT_HOSTING, 2, S }, { "vantage", WD_CAT_HOSTING, 2, S },
  /* devops */
  { "kubernetes", WD_CAT_DEVOPS, 25, S | F }, { "docker", WD_CAT_DEVOPS, 40, S | F | MD },
  { "terraform", WD_CAT_DEVOPS, 20, S | F }, { "ansible", WD_CAT_DEVOPS, 10, F | T | P }, { "jenkins", WD_CAT_DEVOPS, 15, F | M | T },
  { "github actions", WD_CAT_DEVOPS, 30, S }, { "gitlab ci", WD_CAT_DEVOPS, 12, S | F }, { "circleci", WD_CAT_DEVOPS, 8, S },
  { "argo cd", WD_CAT_DEVOPS, 5, S }, { "pulumi", WD_CAT_DEVOPS, 3, S },
  /* observability */
  { "datadog", WD_CAT_OBSERVABILITY, 18, S | F | R }, { "new relic", WD_CAT_OBSERVABILITY, 12, S | R | MD },
  { "grafana", WD_CAT_OBSERVABILITY, 15, S | T }, { "prometheus", WD_CAT_OBSERVABILITY, 15, S | T },
  { "sentry", WD_CAT_OBSERVABILITY, 25, S | MD }, { "splunk", WD_CAT_OBSERVABILITY, 8, F | P | T },
  { "pagerduty", WD_CAT_OBSERVABILITY, 10, S | F }, { "honeycomb", WD_CAT_OBSERVABILITY, 2, S },
  { "incident.io", WD_CAT_OBSERVABILITY, 2, S }, { "opsgenie", WD_CAT_OBSERVABILITY, 5, S | F },
  /* support */
  { "zendesk", WD_CAT_SUPPORT, 25, ALL }, { "intercom", WD_CAT_SUPPORT, 15, S | MD }, { "freshdesk", WD_CAT_SUPPORT, 10, R | V },
  { "help scout", WD_CAT_SUPPORT, 5, S | R }, { "front", WD_CAT_SUPPORT, 4, S | L }, { "gorgias", WD_CAT_SUPPORT, 5, R },
  { "kustomer", WD_CAT_SUPPORT, 3, R },
  /* ecommerce */
  { "shopify", WD_CAT_ECOMMERCE, 30, R }, { "magento", WD_CAT_ECOMMERCE, 12, R | M },
  { "bigcommerce", WD_CAT_ECOMMERCE, 6, R }, { "woocommerce", WD_CAT_ECOMMERCE, 15, R | HO },
  { "salesforce commerce cloud", WD_CAT_ECOMMERCE, 4, R }, { "commercetools", WD_CAT_ECOMMERCE, 2, R },
  { "shopware", WD_CAT_ECOMMERCE, 5, R },
  /* auth */
  { "auth0", WD_CAT_AUTH, 10, S | F }, { "okta", WD_CAT_AUTH, 20, S | F | H }, { "clerk", WD_CAT_AUTH, 3, S },
  { "firebase auth", WD_CAT_AUTH, 8, S | MD }, { "keycloak", WD_CAT_AUTH, 6, S | P | T }, { "onelogin", WD_CAT_AUTH, 5, F | H },
  { "microsoft entra id", WD_CAT_AUTH, 20, M | F | P | H },
  /* security */
  { "vanta", WD_CAT_SECURITY, 6, S }, { "drata", WD_CAT_SECURITY, 5, S }, { "secureframe", WD_CAT_SECURITY, 3, S },
  { "crowdstrike", WD_CAT_SECURITY, 12, F | H | S }, { "snyk", WD_CAT_SECURITY, 8, S }, { "1password", WD_CAT_SECURITY, 15, S | V },
  { "wiz", WD_CAT_SECURITY, 4, S | F }, { "sentinelone", WD_CAT_SECURITY, 6, F | M | H }, { "lacework", WD_CAT_SECURITY, 2, S },
  /* languages and frameworks */
  { "node.js", WD_CAT_LANG, 40, S | MD }, { "react", WD_CAT_LANG, 45, S | MD | R }, { "django", WD_CAT_LANG, 10, S | E },
  { "rails", WD_CAT_LANG, 10, S | R }, { "c#", WD_CAT_LANG, 20, M | F | H | P }, { ".net", WD_CAT_LANG, 20, M | F | H | P },
  { "java", WD_CAT_LANG, 30, F | T | M }, { "spring boot", WD_CAT_LANG, 15, F | T }, { "python", WD_CAT_LANG, 40, S | F | H },
  { "go", WD_CAT_LANG, 15, S }, { "php", WD_CAT_LANG, 20, R | MD | HO }, { "laravel", WD_CAT_LANG, 8, R | V },
  { "vue.js", WD_CAT_LANG, 12, R | MD }, { "angular", WD_CAT_LANG, 12, F | H | P }, { "next.js", WD_CAT_LANG, 15, S | MD },
  { "typescript", WD_CAT_LANG, 35, S }, { "kotlin", WD_CAT_LANG, 8, S | F }, { "swift", WD_CAT_LANG, 10, S | MD | R },
  /* marketing */
  { "marketo", WD_CAT_MARKETING, 8, S | M }, { "mailchimp", WD_CAT_MARKETING, 30, R | V | HO | E },
  { "klaviyo", WD_CAT_MARKETING, 10, R }, { "braze", WD_CAT_MARKETING, 5, MD | R | F }, { "customer.io", WD_CAT_MARKETING, 5, S },
  { "iterable", WD_CAT_MARKETING, 3, R | MD }, { "activecampaign", WD_CAT_MARKETING, 8, V | R }, { "pardot", WD_CAT_MARKETING, 6, S | F | M },
  /* hr */
  { "workday", WD_CAT_HR, 10, F | H | M | P }, { "bamboohr", WD_CAT_HR, 12, S | V }, { "gusto", WD_CAT_HR, 12, S | V | HO },
  { "rippling", WD_CAT_HR, 8, S }, { "deel", WD_CAT_HR, 8, S }, { "personio", WD_CAT_HR, 8, S | M | R },
  { "greenhouse", WD_CAT_HR, 10, S | F }, { "lever", WD_CAT_HR, 8, S }, { "adp", WD_CAT_HR, 15, ALL },
  /* collaboration */
  { "slack", WD_CAT_COLLAB, 55, S | MD | V }, { "microsoft teams", WD_CAT_COLLAB, 40, M | F | H | P | E },
  { "notion", WD_CAT_COLLAB, 25, S }, { "confluence", WD_CAT_COLLAB, 25, S | F | T }, { "jira", WD_CAT_COLLAB, 35, S | F | T },
  { "asana", WD_CAT_COLLAB, 15, MD | V }, { "zoom", WD_CAT_COLLAB, 45, ALL },
  /* cms */
  { "wordpress", WD_CAT_CMS, 40, ALL }, { "contentful", WD_CAT_CMS, 6, S | MD | R }, { "webflow", WD_CAT_CMS, 10, S | V },
  { "sanity", WD_CAT_CMS, 3, S | MD }, { "drupal", WD_CAT_CMS, 8, E | P | MD },
  /* finance */
  { "netsuite", WD_CAT_FINANCE, 12, S | R | M }, { "quickbooks", WD_CAT_FINANCE, 30, V | HO | R }, { "xero", WD_CAT_FINANCE, 15, V | R },
  { "sap", WD_CAT_FINANCE, 12, M | L | EN }, { "bill.com", WD_CAT_FINANCE, 8, S | V }, { "expensify", WD_CAT_FINANCE, 10, S | V },
  { "ramp", WD_CAT_FINANCE, 5, S }, { "brex", WD_CAT_FINANCE, 5, S },
  /* communications */
  { "twilio", WD_CAT_COMMS, 20, S | L | H }, { "sendgrid", WD_CAT_COMMS, 20, S | R }, { "vonage", WD_CAT_COMMS, 6, T | H },
  { "messagebird", WD_CAT_COMMS, 4, L | R }, { "postmark", WD_CAT_COMMS, 5, S },
  /* search */
  { "algolia", WD_CAT_SEARCH, 8, R | MD | S }, { "elasticsearch", WD_CAT_SEARCH, 15, S | F | MD }, { "typesense", WD_CAT_SEARCH, 2, S },
};
const unsigned wd_n_techs = sizeof wd_techs / sizeof wd_techs[0];

const wd_industry wd_industries[] = {
  { "511210", "Software Publishers", "SaaS", S, 40 },
  { "518210", "Data Processing, Hosting, and Related Services", "cloud", S, 12 },
  { "541511", "Custom Computer Programming Services", "software development", S | V, 20 },
  { "541512", "Computer Systems Design Services", "IT services", S | V, 15 },
  { "519130", "Internet Publishing and Broadcasting", "digital media", MD | S, 10 },
  { "522110", "Commercial Banking", "banking", F, 5 },
  { "522320", "Financial Transactions Processing", "fintech", F | S, 10 },
  { "523120", "Securities Brokerage", "wealth management", F, 5 },
  { "524126", "Direct Property and Casualty Insurers", "insurance", F, 5 },
  { "454110", "Electronic Shopping and Mail-Order Houses", "ecommerce", R, 25 },
  { "448140", "Family Clothing Stores", "fashion retail", R, 8 },
  { "445110", "Supermarkets and Grocery Stores", "grocery", R, 5 },
  { "423430", "Computer Equipment Merchant Wholesalers", "wholesale", R | M, 5 },
  { "621111", "Offices of Physicians", "healthcare", H, 8 },
  { "622110", "General Medical and Surgical Hospitals", "hospitals", H, 5 },
  { "325412", "Pharmaceutical Preparation Manufacturing", "pharma", H | M, 5 },
  { "541714", "Research and Development in Biotechnology", "biotech", H, 6 },
  { "336111", "Automobile Manufacturing", "automotive", M, 4 },
  { "334413", "Semiconductor and Related Device Manufacturing", "semiconductors", M, 4 },
  { "332710", "Machine Shops", "industrial manufacturing", M, 8 },
  { "484121", "General Freight Trucking, Long-Distance", "trucking", L, 6 },
  { "493110", "General Warehousing and Storage", "warehousing", L, 5 },
  { "492110", "Couriers and Express Delivery Services", "delivery", L, 5 },
  { "541611", "Administrative Management and General Management Consulting Services", "consulting", V, 12 },
  { "541613", "Marketing Consulting Services", "marketing agencies", V, 10 },
  { "541810", "Advertising Agencies", "advertising", V | MD, 8 },
  { "541110", "Offices of Lawyers", "legal", V, 8 },
  { "541211", "Offices of Certified Public Accountants", "accounting firms", V | F, 6 },
  { "561311", "Employment Placement Agencies", "staffing", V, 6 },
  { "611310", "Colleges, Universities, and Professional Schools", "higher education", E, 5 },
  { "611710", "Educational Support Services", "edtech", E | S, 8 },
  { "512110", "Motion Picture and Video Production", "video production", MD, 4 },
  { "721110", "Hotels (except Casino Hotels) and Motels", "hotels", HO, 5 },
  { "722511", "Full-Service Restaurants", "restaurants", HO, 6 },
  { "713940", "Fitness and Recreational Sports Centers", "fitness", HO, 4 },
  { "221114", "Solar Electric Power Generation", "solar energy", EN, 4 },
  { "211120", "Crude Petroleum Extraction", "oil and gas", EN, 2 },
  { "531210", "Offices of Real Estate Agents and Brokers", "real estate", RE, 8 },
  { "236220", "Commercial and Institutional Building Construction", "construction", RE | M, 6 },
  { "517111", "Wired Telecommunications Carriers", "telecom", T, 4 },
  { "813319", "Other Social Advocacy Organizations", "nonprofit", P, 4 },
};
const unsigned wd_n_industries = sizeof wd_industries / sizeof wd_industries[0];

const wd_country wd_countries[] = {
  { "US", { "com", "io", "ai" }, { "San Francisco", "New York", "Austin" }, "Inc.", WD_REG_NA, 400 },
  { "GB", { "co.uk", "com", "io" }, { "London", "Manchester", "Edinburgh" }, "Ltd", WD_REG_UK, 90 },
  { "DE", { "de", "com", "io" }, { "Berlin", "Munich", "Hamburg" }, "GmbH", WD_REG_DACH, 80 },
  { "FR", { "fr", "com", "io" }, { "Paris", "Lyon", "Nantes" }, "SAS", WD_REG_EU, 50 },
  { "CA", { "ca", "com", "io" }, { "Toronto", "Vancouver", "Montreal" }, "Inc.", WD_REG_NA, 45 },
  { "AU", { "com.au", "com", "io" }, { "Sydney", "Melbourne", "Brisbane" }, "Pty Ltd", WD_REG_APAC, 40 },
  { "NL", { "nl", "com", "io" }, { "Amsterdam", "Rotterdam", "Utrecht" }, "B.V.", WD_REG_EU, 30 },
  { "SE", { "se", "com", "io" }, { "Stockholm", "Gothenburg", "Malmo" }, "AB", WD_REG_NORDICS, 20 },
  { "IN", { "in", "com", "ai" }, { "Bengaluru", "Mumbai", "Pune" }, "Pvt Ltd", WD_REG_APAC, 55 },
  { "BR", { "com.br", "com", NULL }, { "Sao Paulo", "Rio de Janeiro", "Curitiba" }, "Ltda", WD_REG_LATAM, 30 },
  { "ES", { "es", "com", NULL }, { "Madrid", "Barcelona", "Valencia" }, "S.L.", WD_REG_EU, 20 },
  { "IT", { "it", "com", NULL }, { "Milan", "Rome", "Turin" }, "S.r.l.", WD_REG_EU, 18 },
  { "CH", { "ch", "com", "io" }, { "Zurich", "Geneva", "Basel" }, "AG", WD_REG_DACH, 15 },
  { "AT", { "at", "com", NULL }, { "Vienna", "Graz", "Linz" }, "GmbH", WD_REG_DACH, 10 },
  { "DK", { "dk", "com", "io" }, { "Copenhagen", "Aarhus", "Odense" }, "ApS", WD_REG_NORDICS, 10 },
  { "NO", { "no", "com", NULL }, { "Oslo", "Bergen", "Trondheim" }, "AS", WD_REG_NORDICS, 8 },
  { "FI", { "fi", "com", "io" }, { "Helsinki", "Espoo", "Tampere" }, "Oy", WD_REG_NORDICS, 8 },
  { "IE", { "ie", "com", "io" }, { "Dublin", "Cork", "Galway" }, "Ltd", WD_REG_UK, 15 },
  { "PL", { "pl", "com", "io" }, { "Warsaw", "Krakow", "Wroclaw" }, "sp. z o.o.", WD_REG_EU, 15 },
  { "IL", { "co.il", "com", "io" }, { "Tel Aviv", "Haifa", "Jerusalem" }, "Ltd", WD_REG_MEA, 15 },
  { "SG", { "sg", "com", "io" }, { "Singapore", "Singapore", "Singapore" }, "Pte Ltd", WD_REG_APAC, 15 },
  { "JP", { "jp", "co.jp", "com" }, { "Tokyo", "Osaka", "Fukuoka" }, "K.K.", WD_REG_APAC, 15 },
  { "MX", { "mx", "com", NULL }, { "Mexico City", "Guadalajara", "Monterrey" }, "S.A. de C.V.", WD_REG_LATAM, 12 },
  { "AE", { "ae", "com", "io" }, { "Dubai", "Abu Dhabi", "Sharjah" }, "LLC", WD_REG_MEA, 10 },
  { "NZ", { "co.nz", "com", NULL }, { "Auckland", "Wellington", "Christchurch" }, "Ltd", WD_REG_APAC, 8 },
  { "BE", { "be", "com", NULL }, { "Brussels", "Antwerp", "Ghent" }, "BV", WD_REG_EU, 10 },
  { "PT", { "pt", "com", "io" }, { "Lisbon", "Porto", "Braga" }, "Lda", WD_REG_EU, 8 },
  { "ZA", { "co.za", "com", NULL }, { "Cape Town", "Johannesburg", "Durban" }, "(Pty) Ltd", WD_REG_MEA, 8 },
};
const unsigned wd_n_countries = sizeof wd_countries / sizeof wd_countries[0];

const char *const wd_syllables[] = {
  "ka", "lo", "mi", "ver", "tex", "zen", "quo", "ri", "sa", "no", "vo", "ly", "fi", "ra", "bel", "dor",
  "gra", "nix", "pel", "tor", "vi", "xa", "cor", "den", "el", "fan", "gen", "hal", "is", "jun", "kel",
  "lum", "mar", "nor", "or", "pra", "qui", "ros", "sol", "tam", "ul", "ven", "wex", "yar", "zor", "bri",
  "cla", "dra", "fle", "glo", "kri", "plu", "sta", "tri", "vel", "ard", "ex", "ion", "ant", "bo", "cu",
  "da", "ne", "pi", "ta", "ze", "lu", "mo", "sy", "ny", "ko", "ju", "hex", "pax", "rex", "vox", "dyn",
};
const unsigned wd_n_syllables = sizeof wd_syllables / sizeof wd_syllables[0];

const char *const wd_de_syllables[][2] = {
  { "grün", "gruen" }, { "bär", "baer" }, { "schö", "schoe" }, { "müh", "mueh" }, { "wür", "wuer" },
  { "kö", "koe" }, { "flü", "flue" }, { "hö", "hoe" },
};
const unsigned wd_n_de_syllables = sizeof wd_de_syllables / sizeof wd_de_syllables[0];

const char *const wd_name_words[] = {
  "Labs", "Systems", "Health", "Logistics", "Analytics", "Cloud", "Works", "Group", "Digital", "Software",
  "Partners", "Networks", "Energy", "Foods", "Studio", "Retail", "Capital", "Robotics", "Bio", "Media",
};
const unsigned wd_n_name_words = sizeof wd_name_words / sizeof wd_name_words[0];

const char *const wd_generic_roles[] = {
  "Software Engineer", "Account Executive", "Customer Success Manager", "Office Manager", "Product Designer",
  "Financial Analyst", "Marketing Manager", "Warehouse Associate", "Recruiter", "Product Manager",
  "Data Analyst", "Legal Counsel", "Operations Associate", "Store Manager", "Nurse Practitioner",
};
const unsigned wd_n_generic_roles = sizeof wd_generic_roles / sizeof wd_generic_roles[0];

const char *const wd_investors[] = {
  "Sequoia", "Accel", "Index Ventures", "Balderton", "Point Nine", "Lightspeed", "Insight Partners",
  "General Catalyst", "Northzone", "HV Capital", "Y Combinator", "Bessemer", "Atomico", "a local angel group",
};
const unsigned wd_n_investors = sizeof wd_investors / sizeof wd_investors[0];

const char *const wd_rounds[] = { "seed", "Series A", "Series B", "Series C", "growth" };
const unsigned wd_n_rounds = sizeof wd_rounds / sizeof wd_rounds[0];

const char *const wd_events[] = {
  "SaaStr Annual", "AWS re:Invent", "KubeCon", "Web Summit", "Money20/20", "Shoptalk", "Dreamforce",
  "DevOpsDays", "Slush", "VivaTech", "RSA Conference", "Collision", "dmexco", "HLTH",
};
const unsigned wd_n_events = sizeof wd_events / sizeof wd_events[0];

const char *const wd_news_sites[] = {
  "techcrunch.com", "businesswire.com", "prnewswire.com", "sifted.eu", "venturebeat.com", "globenewswire.com",
};
const unsigned wd_n_news_sites = sizeof wd_news_sites / sizeof wd_news_sites[0];

const char *const wd_first_names[] = { "jane", "john", "maria", "lukas", "priya", "chen", "olivia", "ahmed" };
const unsigned wd_n_first_names = sizeof wd_first_names / sizeof wd_first_names[0];
const char *const wd_last_names[] = { "doe", "smith", "garcia", "mueller", "patel", "wang", "brown", "khan" };
const unsigned wd_n_last_names = sizeof wd_last_names / sizeof wd_last_names[0];

const char *const wd_b2c_domains[] = { "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "gmx.de", "aol.com" };
const unsigned wd_n_b2c_domains = sizeof wd_b2c_domains / sizeof wd_b2c_domains[0];

int wd_tech_find(const char *name) {
  for (unsigned i = 0; i < wd_n_techs; i++)
    if (strcmp(wd_techs[i].name, name) == 0) return (int)i;
  return -1;
}
