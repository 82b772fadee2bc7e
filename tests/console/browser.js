// browser.js BASE_URL OUT_DIR CHROMIUM: the web console in headless Chromium (playwright-core), against a
// running `leadpoet serve`. Posts snippets, types a prompt, checks the results (score bars, signals, evidence,
// links, the parsed ICP), opens a lead's profile (stack, churn), the miners and the live charts, renders /docs,
// and saves a screenshot of each into OUT_DIR. Fails on any page error, CSP violation or off-origin request.
"use strict";
const { chromium } = require("playwright-core");
const path = require("path");

const [base, out, exe] = process.argv.slice(2);
if (!base || !out || !exe) {
  console.error("usage: node browser.js BASE_URL OUT_DIR CHROMIUM");
  process.exit(2);
}
let checks = 0;
function check(cond, what) {
  if (!cond) throw new Error("FAILED: " + what);
  checks++;
  console.log("ok  " + what);
}

async function post(p, body) {
  const r = await fetch(base + p, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const j = await r.json();
  if (r.status !== 202 && r.status !== 200) throw new Error(p + ": " + r.status + " " + JSON.stringify(j));
  return j;
}

async function seed() {
  const now = Date.now(), day = 86400000;
  const s = (id, miner, ago, domain, name, kind, text, extra) => Object.assign({ id, miner, ts: now - ago * day,
    lead: { domain, name, employees: 120, country: "US", industry: "software" }, kind, text,
    url: "https://" + domain + "/news/" + id }, extra || {});
  const r = await post("/v1/snippets", [
    s("a1", "scout", 20, "acme.com", "Acme", "tech", "Acme runs its billing on Heroku and Stripe", { tech_added: ["heroku", "stripe"] }),
    s("a2", "scout", 3, "acme.com", "Acme", "hiring", "Acme is hiring a billing engineer to rebuild usage-based invoicing", { tech_removed: ["heroku"], tech_added: ["kubernetes"] }),
    s("a3", "harvest", 1, "acme.com", "Acme", "news", "Acme moves its subscription billing off its in-house system"),
    s("b1", "harvest", 2, "globex.io", "Globex", "funding", "Globex raised a Series B to expand usage-based billing for SaaS customers"),
    s("c1", "scout", 5, "initech.com", "Initech", "review", "Initech complains about invoicing and billing errors in reviews"),
  ]);
  check(r.accepted === 5, "5 snippets accepted by POST /v1/snippets");
}

(async () => {
  await seed();
  const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error") problems.push("console error: " + m.text()); });
  page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) problems.push("off-origin request: " + r.url()); });
  const shot = async (name) => {
    await page.screenshot({ path: path.join(out, name), fullPage: true });
    console.log("screenshot " + path.join(out, name));
  };

  await page.goto(base + "/");
  check(await page.title() === "Leadpoet console", "the console loads at /");
  await page.fill("#prompt", "usage-based billing for SaaS companies in the US that are leaving Heroku");
  await page.fill("#k", "10");
  await page.click("#ask");
  await page.waitForSelector("#results li.lead", { timeout: 15000 });
  const leads = await page.$$eval("#results li.lead", (ls) => ls.map((l) => l.getAttribute("data-domain")));
  check(leads.length >= 2 && leads.includes("acme.com"), "results list leads (" + leads.join(", ") + ")");
  const bars = await page.$$eval("#results .bar[role=meter]", (bs) => bs.map((b) => parseFloat(b.getAttribute("aria-valuenow"))));
  check(bars.length === leads.length && bars.every((v) => v > 0 && v <= 1), "every lead has a score bar");
  check(await page.$$eval("#results .signals li", (s) => s.length) >= leads.length, "signals are shown");
  check(await page.$$eval("#results .evidence li", (s) => s.length) >= leads.length, "evidence is shown");
  check(await page.$$eval("#results .evidence a[href^='https://']", (a) => a.length) >= 1, "evidence links to its source");
  check(await page.isVisible("#icp") && await page.$$eval("#icp-fields dt", (d) => d.length) >= 1, "the parsed ICP is shown");
  check(/lead.* in .* ms .*cost/.test(await page.textContent("#query-status")), "took and cost are reported");
  await shot("console-results.png");

  await page.click("#results li.lead[data-domain='acme.com'] button.domain");
  await page.waitForSelector("#lead-profile:not([hidden]) #lead-stack tbody tr", { timeout: 10000 });
  check((await page.textContent("#lead-title")).includes("acme.com"), "the lead's profile opens");
  const stack = await page.$$eval("#lead-stack tbody tr", (rs) => rs.map((r) => r.textContent));
  check(stack.some((t) => /heroku.*removed/.test(t)) && stack.some((t) => /kubernetes.*in use/.test(t)), "the tech stack shows current and removed technologies");
  check(await page.$$eval("#lead-churn li.removed", (l) => l.length) >= 1, "the churn timeline shows the removal");
  check(await page.$$eval("#lead-categories tbody tr", (l) => l.length) >= 1, "churn categories are listed");
  check(await page.$$eval("#lead-evidence li", (l) => l.length) >= 3, "the profile lists the evidence");
  await shot("console-lead.png");

  await page.click("a[data-view=miners]");
  await page.waitForSelector("#miners tbody tr[data-miner]", { timeout: 10000 });
  const miners = await page.$$eval("#miners tbody tr[data-miner]", (rs) => rs.map((r) => r.getAttribute("data-miner")));
  check(miners.includes("scout") && miners.includes("harvest"), "the miners view lists the miners (" + miners.join(", ") + ")");
  check(await page.$$eval("#miners .bar.interval", (b) => b.length) === miners.length, "each miner has a reputation bar");
  await shot("console-miners.png");

  await page.click("a[data-view=live]");
  for (let i = 0; i < 6; i++) {  // traffic for the charts, spread over three scrapes
    await post("/v1/leads", { prompt: "billing software for SaaS", k: 5 });
    await page.waitForTimeout(700);
  }
  await page.waitForFunction(() => document.querySelectorAll(".charts figure svg").length === 5 &&
    document.querySelector("#chart-qps svg path") && document.querySelector("#chart-latency svg path"), null, { timeout: 15000 });
  check(true, "the five live charts draw (QPS, latency, cost, ingest, lag)");
  check(/\d/.test(await page.textContent("#chart-latency figcaption .now")), "latency percentiles have values");
  await shot("console-live.png");

  await page.goto(base + "/docs");
  await page.waitForSelector("body[data-docs-ready] .opblock", { timeout: 20000 });
  const ops = await page.$$eval(".opblock", (o) => o.length);
  check(ops >= 14, "/docs renders the operations of /openapi.json (" + ops + ")");
  await shot("docs.png");

  await browser.close();
  check(problems.length === 0, "no page errors, CSP violations or off-origin requests" + (problems.length ? ": " + problems.join("; ") : ""));
  console.log(checks + " passed, 0 failed");
})().catch((e) => {
  console.error(e.stack || String(e));
  console.log(checks + " passed, 1 failed");
  process.exit(1);
});
