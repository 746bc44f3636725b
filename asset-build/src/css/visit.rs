//! lightningcss visitors: relative url()s in custom properties marked so they come back as
//! references, and the whitespace after commas in token values dropped.

/// The relative url()s of custom properties, each replaced by a marker that lightningcss
/// takes for an absolute URL.
#[derive(Default)]
pub(super) struct InPlace {
    originals: Vec<String>,
}

const IN_PLACE_MARK: &str = "/\u{1}in-place/";

impl InPlace {
    pub(super) fn original(&self, url: &str) -> Option<String> {
        let n: usize = url.strip_prefix(IN_PLACE_MARK)?.parse().ok()?;
        self.originals.get(n).cloned()
    }

    fn tokens(&mut self, list: &mut lightningcss::properties::custom::TokenList<'_>) {
        use lightningcss::properties::custom::TokenOrValue;
        for t in &mut list.0 {
            match t {
                TokenOrValue::Url(u) if !u.is_absolute() => {
                    let mark = format!("{IN_PLACE_MARK}{}", self.originals.len());
                    self.originals.push(u.url.to_string());
                    u.url = mark.into();
                }
                TokenOrValue::Function(f) => self.tokens(&mut f.arguments),
                TokenOrValue::Var(v) => {
                    if let Some(fb) = &mut v.fallback {
                        self.tokens(fb);
                    }
                }
                TokenOrValue::Env(e) => {
                    if let Some(fb) = &mut e.fallback {
                        self.tokens(fb);
                    }
                }
                _ => {}
            }
        }
    }
}

impl<'i> lightningcss::visitor::Visitor<'i> for InPlace {
    type Error = std::convert::Infallible;

    fn visit_types(&self) -> lightningcss::visitor::VisitTypes {
        lightningcss::visit_types!(PROPERTIES)
    }

    fn visit_property(
        &mut self,
        property: &mut lightningcss::properties::Property<'i>,
    ) -> Result<(), Self::Error> {
        if let lightningcss::properties::Property::Custom(c) = property {
            self.tokens(&mut c.value);
        }
        Ok(())
    }
}

/// Drops the whitespace after commas in values lightningcss keeps as tokens (those with
/// `var()`: `rgba(239, 68, 68, var(--o))` -> `rgba(239,68,68,var(--o))`), as esbuild does.
/// Only in standard properties, whose values are parsed by their grammar once substituted:
/// custom property values stay exactly as written (scripts can read them).
pub(super) struct TightCommas;

impl<'i> lightningcss::visitor::Visitor<'i> for TightCommas {
    type Error = std::convert::Infallible;

    fn visit_types(&self) -> lightningcss::visitor::VisitTypes {
        lightningcss::visit_types!(PROPERTIES)
    }

    fn visit_property(
        &mut self,
        property: &mut lightningcss::properties::Property<'i>,
    ) -> Result<(), Self::Error> {
        if let lightningcss::properties::Property::Unparsed(u) = property {
            tighten_commas(&mut u.value, false);
        }
        Ok(())
    }
}

fn tighten_commas(list: &mut lightningcss::properties::custom::TokenList<'_>, fallback: bool) {
    use lightningcss::properties::custom::{Token, TokenOrValue};
    // A fallback's leading whitespace follows the comma of its `var(`/`env(`.
    let mut after_comma = fallback;
    list.0.retain(|t| {
        let drop = after_comma && t.is_whitespace();
        // Whitespace dropped after a comma keeps the next whitespace droppable too.
        after_comma = drop || matches!(t, TokenOrValue::Token(Token::Comma));
        !drop
    });
    for t in &mut list.0 {
        match t {
            TokenOrValue::Function(f) => tighten_commas(&mut f.arguments, false),
            TokenOrValue::Var(v) => {
                if let Some(f) = &mut v.fallback {
                    tighten_commas(f, true);
                }
            }
            TokenOrValue::Env(e) => {
                if let Some(f) = &mut e.fallback {
                    tighten_commas(f, true);
                }
            }
            _ => {}
        }
    }
}
