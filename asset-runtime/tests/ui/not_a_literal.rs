include!("../generated/site.rs");

fn main() {
    let path = "css/app.css";
    let _ = asset!(path);
}
