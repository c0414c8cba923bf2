-- Pipeline health per season: scheduled and played games, box scores loaded, games and
-- player-games with features, and the newest game loaded. One JOIN per SELECT, every joined
-- subquery aliased (ClickHouse 18.16 and 24.x; 24.x's analyzer requires the aliases).
SELECT
    season,
    scheduled,
    played,
    box_scores,
    played - box_scores AS missing_box_scores,
    games_with_features,
    feature_rows,
    newest_box_score
FROM
(
    SELECT season, scheduled, played, box_scores, newest_box_score
    FROM
    (
        SELECT season, count() AS scheduled, countIf(home_pts IS NOT NULL) AS played
        FROM games FINAL
        GROUP BY season
    ) AS schedule
    ANY LEFT JOIN
    (
        SELECT season, uniqExact(game_id) AS box_scores, max(game_date) AS newest_box_score
        FROM team_boxscores
        GROUP BY season
    ) AS box USING season
) AS loaded
ANY LEFT JOIN
(
    SELECT season, uniqExact(game_id) AS games_with_features, count() AS feature_rows
    FROM player_features
    GROUP BY season
) AS features USING season
ORDER BY season
