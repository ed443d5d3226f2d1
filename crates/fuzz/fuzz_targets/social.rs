//! The social-platform readers (Mastodon, Bluesky, Reddit, Telegram) and
//! the JSONL/CSV importers; the first byte picks the reader.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 7 {
        0 => drop(mediawatch_ingest::parse_mastodon_statuses(
            rest,
            "mastodon.example",
        )),
        1 => drop(mediawatch_ingest::parse_mastodon_account_id(rest)),
        2 => drop(mediawatch_ingest::parse_bluesky_posts(rest)),
        3 => drop(mediawatch_ingest::parse_reddit_listing(rest)),
        4 => drop(mediawatch_ingest::parse_telegram_channel(
            &String::from_utf8_lossy(rest),
        )),
        5 => drop(mediawatch_ingest::parse_jsonl(
            rest,
            &mediawatch_ingest::RecordColumns::default(),
        )),
        _ => drop(mediawatch_ingest::parse_csv(
            rest,
            &mediawatch_ingest::RecordColumns::default(),
            &[],
        )),
    }
});
