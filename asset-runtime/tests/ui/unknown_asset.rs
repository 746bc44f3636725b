include!("../generated/site.rs");

fn main() {
    let _ = asset!("css/ap.css");
}
