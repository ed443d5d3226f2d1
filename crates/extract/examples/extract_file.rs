//! Prints the extracted article of one HTML file (optionally gzip-compressed) as JSON.
//!
//! `cargo run --release -p mediawatch-extract --example extract_file -- PAGE.html[.gz] [URL]`

use std::io::Read;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: extract_file PAGE.html[.gz] [URL]")?;
    let url = std::env::args().nth(2);
    let mut raw = Vec::new();
    let file = std::fs::File::open(&path)?;
    if path.ends_with(".gz") {
        flate2::read::GzDecoder::new(file).read_to_end(&mut raw)?;
    } else {
        std::io::BufReader::new(file).read_to_end(&mut raw)?;
    }
    let art = mediawatch_extract::extract_bytes(
        &raw,
        None,
        url.as_deref(),
        &mediawatch_extract::ExtractOptions::default(),
    )?;
    println!("{}", serde_json::to_string_pretty(&art)?);
    Ok(())
}
