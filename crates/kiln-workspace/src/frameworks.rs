//! Framework inference: the public environment variables a package's framework bakes into
//! its build (`NEXT_PUBLIC_*` for Next.js, `VITE_*` for Vite, …), added to its tasks' `env`
//! without being declared, as Turborepo 2 does.
//!
//! The table is Turborepo 2.11's, in its order: a package gets the first framework whose
//! dependencies it has (all of them, or any one, per framework), looking at the names of its
//! third-party `dependencies`, `devDependencies` and `optionalDependencies` (a workspace
//! package of the same name does not count; versions do not matter). The variables are
//! hashed and, in strict mode, visible to the task; a task's `!` entries in `env` and the
//! `!` entries of `globalEnv` take them out again.

use crate::Package;

/// One framework kiln recognises.
#[derive(Debug, PartialEq, Eq)]
pub struct Framework {
    /// Turborepo's name for it (`nextjs`), shown in dry runs.
    pub slug: &'static str,
    /// The dependency names that identify it.
    pub dependencies: &'static [&'static str],
    /// Whether every one of `dependencies` is needed (else any one).
    pub all: bool,
    /// The variables it reads at build time (`*` wildcards).
    pub env: &'static [&'static str],
    /// More variables, added when a variable has a value: (name, value, variables).
    pub when: Option<(&'static str, &'static str, &'static [&'static str])>,
}

/// Deployment targets whose variables Nitro and Nuxt read.
const NITRO_ENV: [&str; 12] = [
    "NITRO_*",
    "SERVER_*",
    "AWS_APP_ID",
    "INPUT_AZURE_STATIC_WEB_APPS_API_TOKEN",
    "CLEAVR",
    "CF_PAGES",
    "FIREBASE_APP_HOSTING",
    "NETLIFY",
    "STORMKIT",
    "NOW_BUILDER",
    "ZEABUR",
    "RENDER",
];

const NUXT_ENV: [&str; 15] = [
    "NUXT_*",
    "NUXT_ENV_*",
    NITRO_ENV[0],
    NITRO_ENV[1],
    NITRO_ENV[2],
    NITRO_ENV[3],
    NITRO_ENV[4],
    NITRO_ENV[5],
    NITRO_ENV[6],
    NITRO_ENV[7],
    NITRO_ENV[8],
    NITRO_ENV[9],
    NITRO_ENV[10],
    NITRO_ENV[11],
    "LAUNCH_EDITOR",
];

const fn framework(
    slug: &'static str,
    dependencies: &'static [&'static str],
    all: bool,
    env: &'static [&'static str],
) -> Framework {
    Framework {
        slug,
        dependencies,
        all,
        env,
        when: None,
    }
}

/// Every framework, in the order they are tried.
pub static FRAMEWORKS: [Framework; 15] = [
    framework("astro", &["astro"], true, &["PUBLIC_*"]),
    framework("blitzjs", &["blitz"], true, &["NEXT_PUBLIC_*"]),
    framework(
        "create-react-app",
        &["react-scripts", "react-dev-utils"],
        false,
        &["REACT_APP_*"],
    ),
    framework("expo", &["expo"], true, &["EXPO_PUBLIC_*"]),
    framework("gatsby", &["gatsby"], true, &["GATSBY_*"]),
    Framework {
        slug: "nextjs",
        dependencies: &["next"],
        all: true,
        env: &["NEXT_PUBLIC_*", "NEXT_DEPLOYMENT_ID"],
        when: Some((
            "VERCEL_SKEW_PROTECTION_ENABLED",
            "1",
            &["VERCEL_DEPLOYMENT_ID"],
        )),
    },
    framework(
        "nitro",
        &["nitropack", "nitropack-nightly", "nitro", "nitro-nightly"],
        false,
        &NITRO_ENV,
    ),
    framework(
        "nuxtjs",
        &["nuxt", "nuxt-edge", "nuxt3", "nuxt3-edge"],
        false,
        &NUXT_ENV,
    ),
    framework("redwoodjs", &["@redwoodjs/core"], true, &["REDWOOD_ENV_*"]),
    framework(
        "remix",
        &["@remix-run/dev", "@remix-run/react", "@remix-run/serve"],
        false,
        &["REMIX_*"],
    ),
    framework("sanity", &["@sanity/cli"], true, &["SANITY_STUDIO_*"]),
    framework(
        "solidstart",
        &["solid-js", "solid-start"],
        true,
        &["VITE_*"],
    ),
    framework(
        "sveltekit",
        &["@sveltejs/kit"],
        true,
        &["VITE_*", "PUBLIC_*"],
    ),
    framework("vite", &["vite"], true, &["VITE_*"]),
    framework(
        "vue",
        &["@vue/cli-service"],
        true,
        &["VUE_APP_*", "LAUNCH_EDITOR"],
    ),
];

impl Framework {
    /// The first framework `package` depends on, if any.
    pub fn of(package: &Package) -> Option<&'static Framework> {
        let has = |name: &str| package.external_dependencies.contains_key(name);
        FRAMEWORKS.iter().find(|f| {
            if f.all {
                f.dependencies.iter().all(|d| has(d))
            } else {
                f.dependencies.iter().any(|d| has(d))
            }
        })
    }

    /// The variable patterns it adds to a task's `env`, given the environment.
    pub fn env_patterns(&self, var: impl Fn(&str) -> Option<String>) -> Vec<String> {
        let mut patterns: Vec<String> = self.env.iter().map(|p| p.to_string()).collect();
        if let Some((name, value, more)) = self.when
            && var(name).as_deref() == Some(value)
        {
            patterns.extend(more.iter().map(|p| p.to_string()));
        }
        patterns
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn with_deps(deps: &[&str]) -> Package {
        Package {
            name: "web".into(),
            dir: "apps/web".into(),
            version: None,
            scripts: BTreeMap::new(),
            dependencies: vec![],
            manifest: "apps/web/package.json".into(),
            kind: Default::default(),
            external_dependencies: deps
                .iter()
                .map(|d| (d.to_string(), "*".to_string()))
                .collect(),
        }
    }

    fn slug(deps: &[&str]) -> Option<&'static str> {
        Framework::of(&with_deps(deps)).map(|f| f.slug)
    }

    #[test]
    fn the_first_framework_in_the_table_wins() {
        assert_eq!(slug(&["next", "vite"]), Some("nextjs"));
        assert_eq!(slug(&["blitz", "next"]), Some("blitzjs"));
        assert_eq!(slug(&["nuxt", "nitropack"]), Some("nitro"));
        assert_eq!(slug(&["@sveltejs/kit", "vite"]), Some("sveltekit"));
        assert_eq!(slug(&["react"]), None);
    }

    #[test]
    fn all_or_any_of_the_dependencies() {
        assert_eq!(slug(&["solid-js"]), None);
        assert_eq!(slug(&["solid-js", "solid-start"]), Some("solidstart"));
        assert_eq!(slug(&["react-dev-utils"]), Some("create-react-app"));
        assert_eq!(slug(&["nuxt3"]), Some("nuxtjs"));
    }

    #[test]
    fn a_conditional_variable_needs_its_exact_value() {
        let next = Framework::of(&with_deps(&["next"])).unwrap();
        let on = |v: &'static str| {
            move |name: &str| (name == "VERCEL_SKEW_PROTECTION_ENABLED").then(|| v.to_string())
        };
        assert!(
            next.env_patterns(on("1"))
                .contains(&"VERCEL_DEPLOYMENT_ID".to_string())
        );
        assert!(
            !next
                .env_patterns(on("true"))
                .contains(&"VERCEL_DEPLOYMENT_ID".to_string())
        );
    }
}
