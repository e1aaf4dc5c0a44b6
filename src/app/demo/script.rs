//! The demo's script: a month of a small shop service, as steps in time
//! order (commits, a merge, a revert, releases), and its incidents. Data
//! only; `super` writes and records it.

use chrono::Duration;

use super::MAIN;
use crate::git::Person;

/// How long ago something happened: days, hours, minutes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ago(pub i64, pub i64, pub i64);

impl Ago {
    pub(super) fn duration(self) -> Duration {
        Duration::minutes((self.0 * 24 + self.1) * 60 + self.2)
    }
}

/// The first commit, in days before now: the history fits the default
/// 30-day report window.
pub(super) const FIRST_DAY: i64 = 29;
/// When dorameter was installed: the releases before are backfilled from
/// their tags, the deploy job records the later ones.
pub(super) const INSTALLED: Ago = Ago(16, 0, 0);
/// How long a deploy job takes.
pub(super) const DEPLOY_MINUTES: i64 = 8;

const ALEX: Person = Person {
    name: "Alex Rivera",
    email: "alex@shop.example",
};
const SAM: Person = Person {
    name: "Sam Chen",
    email: "sam@shop.example",
};
const PRIYA: Person = Person {
    name: "Priya Nair",
    email: "priya@shop.example",
};
/// Who tags releases.
pub(super) const RELEASE_BOT: Person = Person {
    name: "Release Bot",
    email: "releases@shop.example",
};

/// Path and content of files a commit sets; an empty content removes one.
pub(super) type Files = &'static [(&'static str, &'static str)];

/// One step of the demo's history, oldest first.
pub(super) enum Step {
    /// A commit on `branch`; a branch that does not exist yet starts at
    /// the tip of main.
    Commit {
        branch: &'static str,
        at: Ago,
        by: Person,
        message: &'static str,
        files: Files,
    },
    /// `git revert` on main of the commit with this subject.
    Revert {
        subject: &'static str,
        at: Ago,
        by: Person,
        files: Files,
    },
    /// `branch` merged into main.
    Merge {
        branch: &'static str,
        at: Ago,
        by: Person,
    },
    /// The tip of main released: tagged and deployed. A rollback deploys
    /// the earlier release `version` again and tags nothing.
    Release {
        version: &'static str,
        at: Ago,
        by: Person,
        kind: Kind,
    },
}

/// What the deploy job was told about a release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Planned,
    /// `deploy --rollback`.
    Rollback,
    /// `deploy --hotfix`.
    Hotfix,
}

const CART: &str = "class Cart:\n    def __init__(self):\n        self.items = []\n\n    def add(self, product, qty=1):\n        self.items.append((product, qty))\n";
const CART_TOTAL: &str = "class Cart:\n    def __init__(self):\n        self.items = []\n\n    def add(self, product, qty=1):\n        self.items.append((product, qty))\n\n    def total(self, tax=0.2):\n        return sum(p.price * q for p, q in self.items) * (1 + tax)\n";
const API_DOC: &str = "# API\n\n- `GET /products`\n- `GET /products/<id>`\n- `GET /search?q=`\n";

/// A month of a small shop service: features, a merged branch, a bad
/// release rolled back (INC-101), a widget reverted (INC-102), a hotfix.
pub(super) const HISTORY: &[Step] = &[
    Step::Commit {
        branch: MAIN,
        at: Ago(FIRST_DAY, 6, 0),
        by: ALEX,
        message: "chore: initial commit",
        files: &[
            (
                "README.md",
                "# shop-api\n\nThe shop's HTTP API. Created by `dorameter demo`.\n",
            ),
            (".gitignore", "__pycache__/\n.venv/\n"),
            (
                ".dorameter.toml",
                "# dorameter's settings for this repository\nservice = \"shop-api\"\n",
            ),
            ("requirements.txt", "flask==3.0.3\nrequests==2.31.0\n"),
            ("shop/__init__.py", "\"\"\"The shop's HTTP API.\"\"\"\n"),
            (
                "shop/app.py",
                "from flask import Flask\n\napp = Flask(__name__)\n",
            ),
        ],
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(28, 22, 10),
        by: SAM,
        message: "feat: list products",
        files: &[(
            "shop/catalogue.py",
            "PRODUCTS = []\n\n\ndef list_products():\n    return PRODUCTS\n",
        )],
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(28, 19, 30),
        by: ALEX,
        message: "feat: product detail page",
        files: &[(
            "shop/product.py",
            "from .catalogue import PRODUCTS\n\n\ndef product(pid):\n    return next(p for p in PRODUCTS if p.id == pid)\n",
        )],
    },
    Step::Release {
        version: "v1.0.0",
        at: Ago(28, 16, 0),
        by: ALEX,
        kind: Kind::Planned,
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(27, 3, 15),
        by: PRIYA,
        message: "feat: search products by name",
        files: &[(
            "shop/search.py",
            "from .catalogue import PRODUCTS\n\n\ndef search(q):\n    return [p for p in PRODUCTS if q in p.name]\n",
        )],
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(26, 23, 40),
        by: SAM,
        message: "fix: an empty search returns no products",
        files: &[(
            "shop/search.py",
            "from .catalogue import PRODUCTS\n\n\ndef search(q):\n    if not q:\n        return []\n    return [p for p in PRODUCTS if q in p.name]\n",
        )],
    },
    Step::Release {
        version: "v1.1.0",
        at: Ago(26, 20, 0),
        by: SAM,
        kind: Kind::Planned,
    },
    // A feature branch, merged while main moved on.
    Step::Commit {
        branch: "feature/cart",
        at: Ago(25, 5, 20),
        by: PRIYA,
        message: "feat(cart): add items to the cart",
        files: &[("shop/cart.py", CART)],
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(25, 2, 0),
        by: ALEX,
        message: "docs: describe the API",
        files: &[("docs/api.md", API_DOC)],
    },
    Step::Commit {
        branch: "feature/cart",
        at: Ago(24, 22, 45),
        by: PRIYA,
        message: "feat(cart): cart totals with tax",
        files: &[("shop/cart.py", CART_TOTAL)],
    },
    Step::Merge {
        branch: "feature/cart",
        at: Ago(24, 20, 30),
        by: SAM,
    },
    Step::Release {
        version: "v1.2.0",
        at: Ago(24, 18, 0),
        by: SAM,
        kind: Kind::Planned,
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(23, 4, 0),
        by: SAM,
        message: "perf: cache the product list",
        files: &[(
            "shop/catalogue.py",
            "from functools import lru_cache\n\nPRODUCTS = []\n\n\n@lru_cache\ndef list_products():\n    return tuple(PRODUCTS)\n",
        )],
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(22, 6, 0),
        by: ALEX,
        message: "feat: product images",
        files: &[(
            "shop/images.py",
            "def image_url(product, size=\"m\"):\n    return f\"/img/{product.id}-{size}.webp\"\n",
        )],
    },
    Step::Release {
        version: "v1.3.0",
        at: Ago(21, 22, 0),
        by: ALEX,
        kind: Kind::Planned,
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(19, 5, 10),
        by: PRIYA,
        message: "feat: wishlist",
        files: &[(
            "shop/wishlist.py",
            "WISHLISTS = {}\n\n\ndef wish(user, product):\n    WISHLISTS.setdefault(user, set()).add(product.id)\n",
        )],
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(18, 23, 0),
        by: PRIYA,
        message: "test: wishlist edge cases",
        files: &[(
            "tests/test_wishlist.py",
            "from shop.wishlist import WISHLISTS, wish\n\n\ndef test_wish_twice(product):\n    wish(\"u\", product)\n    wish(\"u\", product)\n    assert WISHLISTS[\"u\"] == {product.id}\n",
        )],
    },
    Step::Release {
        version: "v1.4.0",
        at: Ago(18, 20, 0),
        by: PRIYA,
        kind: Kind::Planned,
    },
    // dorameter is installed: the deploy job records from here on.
    Step::Commit {
        branch: MAIN,
        at: Ago(14, 6, 0),
        by: SAM,
        message: "feat: checkout flow",
        files: &[(
            "shop/checkout.py",
            "def checkout(cart, code=None):\n    total = cart.total()\n    if code:\n        total -= code.amount\n    return total\n",
        )],
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(13, 4, 0),
        by: ALEX,
        message: "feat: pay with the payment provider",
        files: &[(
            "shop/payments.py",
            "import requests\n\n\ndef charge(amount, token):\n    return requests.post(\"https://pay.example/charge\", json={\"amount\": amount, \"token\": token}, timeout=10)\n",
        )],
    },
    Step::Release {
        version: "v1.5.0",
        at: Ago(12, 22, 0),
        by: SAM,
        kind: Kind::Planned,
    },
    // INC-101: checkout fails; v1.4.0 goes back out.
    Step::Release {
        version: "v1.4.0",
        at: Ago(12, 20, 40),
        by: SAM,
        kind: Kind::Rollback,
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(11, 22, 0),
        by: SAM,
        message: "fix: apply discount codes before tax at checkout",
        files: &[(
            "shop/checkout.py",
            "def checkout(cart, code=None):\n    discount = code.amount if code else 0\n    return (cart.subtotal() - discount) * (1 + cart.tax)\n",
        )],
    },
    Step::Release {
        version: "v1.5.1",
        at: Ago(11, 20, 0),
        by: SAM,
        kind: Kind::Planned,
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(9, 5, 0),
        by: PRIYA,
        message: "feat: recommendations widget",
        files: &[(
            "shop/recommendations.py",
            "from .catalogue import list_products\n\n\ndef recommend(product):\n    return [p for p in list_products() if p.category == product.category]\n",
        )],
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(8, 23, 0),
        by: ALEX,
        message: "chore: bump requests to 2.32.3",
        files: &[("requirements.txt", "flask==3.0.3\nrequests==2.32.3\n")],
    },
    Step::Release {
        version: "v1.6.0",
        at: Ago(8, 20, 0),
        by: PRIYA,
        kind: Kind::Planned,
    },
    // INC-102: product pages time out; the widget is reverted.
    Step::Revert {
        subject: "feat: recommendations widget",
        at: Ago(8, 16, 45),
        by: PRIYA,
        files: &[("shop/recommendations.py", "")],
    },
    Step::Release {
        version: "v1.6.1",
        at: Ago(8, 16, 15),
        by: PRIYA,
        kind: Kind::Planned,
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(5, 4, 0),
        by: SAM,
        message: "feat: order history",
        files: &[(
            "shop/orders.py",
            "def history(user, page=1, per_page=20):\n    orders = user.orders\n    return orders[(page - 1) * per_page : page * per_page]\n",
        )],
    },
    Step::Release {
        version: "v1.7.0",
        at: Ago(4, 22, 0),
        by: SAM,
        kind: Kind::Planned,
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(4, 19, 0),
        by: SAM,
        message: "hotfix: order history crashes on the last page",
        files: &[(
            "shop/orders.py",
            "def history(user, page=1, per_page=20):\n    orders = list(user.orders or [])\n    return orders[(page - 1) * per_page : page * per_page]\n",
        )],
    },
    Step::Release {
        version: "v1.7.1",
        at: Ago(4, 18, 0),
        by: SAM,
        kind: Kind::Hotfix,
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(2, 6, 0),
        by: ALEX,
        message: "feat: gift cards",
        files: &[(
            "shop/gift_cards.py",
            "def redeem(card, cart):\n    used = min(card.balance, cart.total())\n    card.balance -= used\n    return used\n",
        )],
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(1, 23, 0),
        by: PRIYA,
        message: "docs: gift cards in the API",
        files: &[(
            "docs/api.md",
            "# API\n\n- `GET /products`\n- `GET /products/<id>`\n- `GET /search?q=`\n- `POST /gift-cards/<code>/redeem`\n",
        )],
    },
    Step::Release {
        version: "v1.8.0",
        at: Ago(1, 20, 0),
        by: ALEX,
        kind: Kind::Planned,
    },
    Step::Commit {
        branch: MAIN,
        at: Ago(0, 9, 0),
        by: SAM,
        message: "fix: typo in the order confirmation email",
        files: &[(
            "shop/email.py",
            "CONFIRMATION = \"Thank you for your order!\"\n",
        )],
    },
    Step::Release {
        version: "v1.8.1",
        at: Ago(0, 5, 0),
        by: SAM,
        kind: Kind::Planned,
    },
];

/// An incident of the demo, opened and resolved by the on-call engineer.
pub(super) struct DemoIncident {
    pub(super) id: &'static str,
    pub(super) title: &'static str,
    pub(super) severity: &'static str,
    pub(super) started: Ago,
    pub(super) detected: Ago,
    pub(super) resolved: Ago,
}

pub(super) const INCIDENTS: [DemoIncident; 2] = [
    DemoIncident {
        id: "INC-101",
        title: "Checkout fails for carts with a discount code",
        severity: "SEV2",
        started: Ago(12, 21, 0),
        detected: Ago(12, 20, 55),
        resolved: Ago(12, 20, 25),
    },
    DemoIncident {
        id: "INC-102",
        title: "Product pages time out",
        severity: "SEV3",
        started: Ago(8, 17, 0),
        detected: Ago(8, 16, 50),
        resolved: Ago(8, 16, 5),
    },
];
