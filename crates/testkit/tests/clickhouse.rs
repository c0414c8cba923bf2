//! Checks `clickhouse_url()` against a real server: it starts one (or uses
//! `CLICKHOUSE_URL`) and the server answers queries. Plain `std::net` HTTP keeps the
//! testkit free of client dependencies.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends one HTTP request to the server and returns (status code, body).
fn request(method: &str, url: &str, path_and_query: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let host_port = url.strip_prefix("http://").unwrap_or_else(|| panic!("only http:// URLs are supported here, got {url}"));
    let mut stream = TcpStream::connect(host_port).expect("connect to ClickHouse");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("set timeout");
    let head = format!("{method} {path_and_query} HTTP/1.1\r\nHost: {host_port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(body).expect("send body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("end of HTTP headers");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).expect("status code");
    let mut body = response[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").expect("chunk size");
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).expect("hex chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn query(url: &str, sql: &str) -> String {
    let (status, body) = request("POST", url, "/", sql.as_bytes());
    let text = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(status, 200, "{sql}\n{text}");
    text
}

#[test]
fn clickhouse_url_gives_a_working_server() {
    let url = nba_testkit::clickhouse_url();
    assert!(url.starts_with("http://"), "{url}");
    // Same &'static str on every call: started once per process.
    assert!(std::ptr::eq(url, nba_testkit::clickhouse_url()));

    // GET: a POST to /ping is read as an (empty) query.
    let (status, body) = request("GET", url, "/ping", b"");
    assert_eq!((status, body.as_slice()), (200, &b"Ok.\n"[..]));

    let db = nba_testkit::unique_database("testkit::clickhouse");
    query(url, &format!("DROP DATABASE IF EXISTS {db}"));
    query(url, &format!("CREATE DATABASE {db}"));
    // The column types the project relies on, which 18.16 accepts only with the
    // profile that scripts/clickhouse.sh writes (LowCardinality).
    query(
        url,
        &format!(
            "CREATE TABLE {db}.t (id UInt32, team LowCardinality(String), pts Nullable(Float32)) \
             ENGINE = ReplacingMergeTree ORDER BY id"
        ),
    );
    // RowBinary: UInt32 LE, String as varint length + bytes, Nullable as a null flag byte.
    let mut rows = Vec::new();
    rows.extend_from_slice(&1u32.to_le_bytes());
    rows.extend_from_slice(b"\x03BOS");
    rows.extend_from_slice(b"\x00");
    rows.extend_from_slice(&27.5f32.to_le_bytes());
    rows.extend_from_slice(&2u32.to_le_bytes());
    rows.extend_from_slice(b"\x03LAL");
    rows.extend_from_slice(b"\x01");
    let insert = format!("/?query=INSERT%20INTO%20{db}.t%20FORMAT%20RowBinary");
    let (status, body) = request("POST", url, &insert, &rows);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(query(url, &format!("SELECT id, team, pts FROM {db}.t ORDER BY id FORMAT TSV")), "1\tBOS\t27.5\n2\tLAL\t\\N\n");
    query(url, &format!("DROP DATABASE {db}"));
}
