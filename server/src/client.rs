//! `nba-server predict`: a small real gRPC client of `Predict`, for the README's demo and
//! for operators checking a deployment by hand.

use crate::config::ClientArgs;
use anyhow::{Context, bail};
use nba_api::proto::predict::prediction_service_client::PredictionServiceClient;
use nba_api::proto::predict::{Call, PredictRequest};

/// Parses `PLAYER_ID,YYYY-MM-DD,OPPONENT,home|away[,LINE]`.
pub fn parse_request(s: &str) -> anyhow::Result<PredictRequest> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let (player, date, opp, venue, line) = match parts.as_slice() {
        [p, d, o, v] => (*p, *d, *o, *v, None),
        [p, d, o, v, l] => (*p, *d, *o, *v, Some(l.parse::<f64>().with_context(|| format!("line {l:?} in {s:?} is not a number"))?)),
        _ => bail!("{s:?}: expected PLAYER_ID,YYYY-MM-DD,OPPONENT,home|away[,LINE]"),
    };
    let is_home = match venue {
        "home" => true,
        "away" => false,
        v => bail!("{s:?}: venue {v:?} must be home or away"),
    };
    Ok(PredictRequest { player_id: player.into(), game_date: date.into(), opponent: opp.into(), is_home, line, ..Default::default() })
}

pub async fn run(args: ClientArgs) -> anyhow::Result<()> {
    let requests: Vec<PredictRequest> = args.requests.iter().map(|r| parse_request(r)).collect::<anyhow::Result<_>>()?;
    let channel = tonic::transport::Endpoint::from_shared(args.addr.clone())
        .with_context(|| format!("server address {:?}", args.addr))?
        .connect()
        .await
        .with_context(|| format!("connecting to {}", args.addr))?;
    let token = args.token.clone();
    let mut client = PredictionServiceClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
        if let Some(t) = &token {
            let v = format!("Bearer {t}").parse().map_err(|_| tonic::Status::invalid_argument("token is not a valid header value"))?;
            req.metadata_mut().insert("authorization", v);
        }
        Ok(req)
    });
    let mut failed = 0;
    for req in requests {
        let label = format!("{} {} {} {}", req.player_id, req.game_date, if req.is_home { "vs" } else { "at" }, req.opponent);
        match client.predict(req).await {
            Ok(r) => {
                let r = r.into_inner();
                let source = |s: i32| crate::flight::source_name(s).unwrap_or("?");
                let mut line = format!(
                    "{label} ({}): {:.1} points (80% interval {:.1}-{:.1}; {} games before; model {}; inactive lists {}/{}, lineups {}/{})",
                    r.team,
                    r.predicted_points,
                    r.p10,
                    r.p90,
                    r.games_before,
                    r.model_version,
                    source(r.availability_source),
                    source(r.opponent_availability_source),
                    source(r.lineup_source),
                    source(r.opponent_lineup_source)
                );
                if let (Some(edge), Some(p), Some(l)) = (r.edge, r.p_over, r.line) {
                    let call = Call::try_from(r.call).map(|c| c.as_str_name()).unwrap_or("?");
                    line.push_str(&format!("; line {l:.1} ({}); edge {edge:+.1}, P(over) {p:.2}: {call}", line_origin(&r)));
                }
                println!("{line}");
            }
            Err(s) => {
                failed += 1;
                println!("{label}: {:?}: {}", s.code(), s.message());
            }
        }
    }
    if failed > 0 {
        bail!("{failed} prediction(s) failed");
    }
    Ok(())
}

/// Where the answer's line came from, for people: `request`, `consensus of 4 books at
/// 2023-10-27T21:35:00Z`, `draftkings at ...`.
fn line_origin(r: &nba_api::proto::predict::PredictResponse) -> String {
    match (r.line_source.as_str(), r.line_time.as_deref()) {
        ("consensus", Some(t)) => format!("consensus of {} books at {t}", r.line_books),
        (book, Some(t)) => format!("{book} at {t}"),
        (source, None) => source.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_bad_ones_say_why() {
        let r = parse_request("jamesle01,2024-04-14,NOP,away,24.5").unwrap();
        assert_eq!((r.player_id.as_str(), r.game_date.as_str(), r.opponent.as_str(), r.is_home, r.line), ("jamesle01", "2024-04-14", "NOP", false, Some(24.5)));
        assert!(parse_request("jamesle01,2024-04-14,NOP").is_err());
        assert!(parse_request("jamesle01,2024-04-14,NOP,road").unwrap_err().to_string().contains("home or away"));
        assert!(parse_request("jamesle01,2024-04-14,NOP,home,x").is_err());
    }
}
