//! Nomad's list paginator (`http-api.md` §10.1): `per_page`, `next_token`, `reverse`.
//!
//! Items arrive in index order; each has a token — its ID when the list is scanned by ID
//! prefix, else `"<CreateIndex>.<ID>"`. The page starts at the first item whose token is
//! not before `next_token` (not after, when reversed) and the token of the first item
//! left out becomes `X-Nomad-NextToken`. Clients treat tokens as opaque.

use std::cmp::Ordering;

/// What the client asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// 0 = everything; negative = an empty page (as Nomad accepts it).
    pub per_page: i32,
    pub next_token: String,
    pub reverse: bool,
}

/// An item's position in a paginated list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// Lists scanned by ID (prefix queries): the ID itself.
    Id(String),
    /// Lists in creation order: `CreateIndex.ID`.
    Created { index: u64, id: String },
}

impl Token {
    pub fn created(index: u64, id: impl ToString) -> Token {
        Token::Created {
            index,
            id: id.to_string(),
        }
    }

    pub fn id(id: impl ToString) -> Token {
        Token::Id(id.to_string())
    }

    fn render(&self) -> String {
        match self {
            Token::Id(id) => id.clone(),
            Token::Created { index, id } => format!("{index}.{id}"),
        }
    }

    /// How this item's token compares with the client's `next_token`. A
    /// `CreateIndex.ID` token compares numerically on the index, then on the ID; a
    /// `next_token` that does not have that shape is compared as a plain string.
    fn cmp_to(&self, next_token: &str) -> Ordering {
        if let Token::Created { index, id } = self {
            if let Some((n, rest)) = next_token.split_once('.') {
                if let Ok(n) = n.parse::<u64>() {
                    return (*index, id.as_str()).cmp(&(n, rest));
                }
            }
        }
        self.render().as_str().cmp(next_token)
    }
}

/// One page and the token of the first item of the next one.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// Pages `items` (given in ascending index order).
pub fn paginate<T>(
    items: impl DoubleEndedIterator<Item = T>,
    request: &PageRequest,
    token: impl Fn(&T) -> Token,
) -> Page<T> {
    let ordered: Box<dyn Iterator<Item = T>> = if request.reverse {
        Box::new(items.rev())
    } else {
        Box::new(items)
    };
    let mut page = Page {
        items: Vec::new(),
        next_token: None,
    };
    if request.per_page < 0 {
        return page;
    }
    let limit = usize::try_from(request.per_page).unwrap_or(usize::MAX);
    for item in ordered {
        if !request.next_token.is_empty() {
            let ord = token(&item).cmp_to(&request.next_token);
            let before_start = if request.reverse {
                ord == Ordering::Greater
            } else {
                ord == Ordering::Less
            };
            if before_start {
                continue;
            }
        }
        if limit != 0 && page.items.len() == limit {
            page.next_token = Some(token(&item).render());
            break;
        }
        page.items.push(item);
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<(u64, &'static str)> {
        vec![(5, "aa"), (5, "bb"), (9, "aa"), (12, "cc")]
    }

    fn page(req: PageRequest) -> (Vec<(u64, &'static str)>, Option<String>) {
        let p = paginate(items().into_iter(), &req, |(i, id)| Token::created(*i, id));
        (p.items, p.next_token)
    }

    #[test]
    fn pages_forward_with_create_index_tokens() {
        let req = |per_page, next: &str| PageRequest {
            per_page,
            next_token: next.into(),
            reverse: false,
        };
        assert_eq!(
            page(req(2, "")),
            (vec![(5, "aa"), (5, "bb")], Some("9.aa".into()))
        );
        assert_eq!(page(req(2, "9.aa")), (vec![(9, "aa"), (12, "cc")], None));
        // Numeric, not string, comparison of the index part.
        assert_eq!(page(req(0, "10.a")), (vec![(12, "cc")], None));
        assert_eq!(page(req(-1, "")), (vec![], None));
    }

    #[test]
    fn pages_backward() {
        let req = PageRequest {
            per_page: 2,
            next_token: "9.aa".into(),
            reverse: true,
        };
        assert_eq!(page(req), (vec![(9, "aa"), (5, "bb")], Some("5.aa".into())));
    }

    #[test]
    fn id_tokens_compare_as_strings() {
        let ids = ["0a", "1b", "2c"];
        let p = paginate(
            ids.iter(),
            &PageRequest {
                per_page: 1,
                next_token: "1".into(),
                reverse: false,
            },
            |id| Token::id(id),
        );
        assert_eq!(p.items, vec![&"1b"]);
        assert_eq!(p.next_token.as_deref(), Some("2c"));
    }
}
