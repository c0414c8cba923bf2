//! Compiles `proto/` into Rust using protox, a pure-Rust protobuf compiler, so a build
//! needs no system `protoc`: the messages with prost always, the tonic services and clients
//! only with the `grpc` feature (the fuzz targets build without it, and so without tonic).
//! The encoded descriptor set is written beside the code for the gRPC reflection service.

use prost::Message;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [root.join("nba/predict/v1/predict.proto"), root.join("inference/grpc_predict_v2.proto")];
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("descriptor.bin"), fds.encode_to_vec())?;
    // Cargo tells a build script which features are on through the environment.
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    tonic_prost_build::configure().build_server(grpc).build_client(grpc).compile_fds(fds)?;
    Ok(())
}
