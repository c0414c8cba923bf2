//! Code generated from `proto/` by `build.rs`: the `nba.predict.v1` API, the Open
//! Inference Protocol (`inference`), and the descriptor set served by reflection.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod predict {
    tonic::include_proto!("nba.predict.v1");
}

pub mod inference {
    tonic::include_proto!("inference");
}

/// Encoded `FileDescriptorSet` of every proto file (for gRPC server reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));
