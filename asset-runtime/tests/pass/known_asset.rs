include!("../generated/site.rs");

fn main() {
    let css: &'static asset_runtime::Asset = asset!("css/app.css");
    assert_eq!(css.path(), "css/app.css");
    assert_eq!(css.content_type(), "text/css; charset=utf-8");
    assert!(css.integrity().starts_with("sha384-"));
    assert!(css.to_string().starts_with("/static/css/app."));
    let odd = asset!("img/sp ace.png");
    assert_eq!(odd.to_string(), format!("/static/img/sp%20ace.{}.png", &odd.sha256()[..16]));
    assert!(ASSETS.get("js/app.mjs").is_some());

    // This generated code is a CDN-only build (embed = false): no bytes, 404s, and a base
    // URL is required.
    assert!(!ASSETS.embedded() && css.bytes().is_none());
    let r = ASSETS.service().respond(&http::Method::GET, &format!("/{}", css.hashed_path()), &http::HeaderMap::new());
    assert_eq!(r.status(), http::StatusCode::NOT_FOUND);
    assert!(ASSETS.check_base_url().unwrap_err().to_string().contains("set ASSET_BASE_URL"));
    asset_runtime::set_base_url("https://cdn.example.com/static").unwrap();
    ASSETS.check_base_url().unwrap();
    assert_eq!(css.to_string(), format!("https://cdn.example.com/static/{}", css.hashed_path()));
    assert_eq!(
        css.stylesheet_tag(),
        format!("<link rel=\"stylesheet\" href=\"https://cdn.example.com/static/{}\" integrity=\"{}\" crossorigin=\"anonymous\">", css.hashed_path(), css.integrity())
    );
}
