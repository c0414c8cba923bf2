-- OVER/UNDER calls of the last 30 graded days per model version, source, slate run and edge bucket: hit rates beside the 52.4% break-even of -110 odds
-- Hit rate = hits / (calls - pushes): a push (points == line) is refunded, neither won
-- nor lost. `roi_at_110`: units won per unit risked at -110 (win 100/110, lose 1).
-- Window: the 30 days up to the newest graded day (`nba-ingest grade`).
SELECT
    model_version,
    source,
    run,
    edge_bucket,
    n_calls AS calls,
    n_over AS over_calls,
    round(over_hits_sum / (n_over - over_push_sum), 3) AS over_hit_rate,
    n_under AS under_calls,
    round(under_hits_sum / (n_under - under_push_sum), 3) AS under_hit_rate,
    over_push_sum + under_push_sum AS pushes,
    round((over_hits_sum + under_hits_sum) / (n_calls - over_push_sum - under_push_sum), 3) AS hit_rate,
    0.524 AS break_even,
    round(((over_hits_sum + under_hits_sum) * (100 / 110) - (n_calls - over_push_sum - under_push_sum - over_hits_sum - under_hits_sum))
        / (n_calls - over_push_sum - under_push_sum), 3) AS roi_at_110
FROM
(
    SELECT
        model_version,
        source,
        run,
        edge_bucket,
        sum(calls) AS n_calls,
        sum(over_calls) AS n_over,
        sum(over_hits) AS over_hits_sum,
        sum(over_pushes) AS over_push_sum,
        sum(under_calls) AS n_under,
        sum(under_hits) AS under_hits_sum,
        sum(under_pushes) AS under_push_sum
    FROM grade_summaries FINAL
    WHERE game_date > (SELECT max(game_date) FROM grade_summaries) - 30
    GROUP BY model_version, source, run, edge_bucket
)
WHERE n_calls > 0
ORDER BY model_version, source, run, edge_bucket
