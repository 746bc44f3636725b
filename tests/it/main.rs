//! The integration tests, one binary; each module covers one part of the product.

mod browser;
mod cdn;
mod first_run;
mod meaning;
mod media;
mod module_graphs;
mod modules;
mod pipeline;
mod publish;
mod serve;
mod sources;
