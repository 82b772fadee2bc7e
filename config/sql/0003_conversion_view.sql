-- 0003: what the archive is for, as a view: for each model and variant, the leads delivered and how many
-- of them led to each kind of outcome that names the answer (outcomes.query_id), with the deal value.
-- A lead counts once per answer, however many events of one kind it had.
CREATE VIEW conversion_by_variant AS
SELECT a.model,
       a.variant,
       count(*) AS leads_delivered,
       count(*) FILTER (WHERE o.replied) AS replied,
       count(*) FILTER (WHERE o.meeting) AS meetings,
       count(*) FILTER (WHERE o.purchased) AS purchased,
       count(*) FILTER (WHERE o.bad) AS bad,
       coalesce(sum(o.value_usd), 0) AS value_usd,
       count(*) FILTER (WHERE o.purchased)::double precision / count(*) AS purchase_rate
FROM answers a
JOIN answer_leads l ON l.query_id = a.query_id AND l.ts = a.ts
LEFT JOIN LATERAL (
  SELECT bool_or(event = 'replied') AS replied,
         bool_or(event = 'meeting') AS meeting,
         bool_or(event = 'purchased') AS purchased,
         bool_or(event IN ('bounced', 'invalid', 'spam')) AS bad,
         sum(value_usd) FILTER (WHERE event = 'purchased') AS value_usd
  FROM outcomes o
  WHERE o.query_id = l.query_id AND o.domain = l.domain
) o ON true
GROUP BY a.model, a.variant;
