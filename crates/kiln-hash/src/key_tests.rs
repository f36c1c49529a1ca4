use super::*;
use crate::ChangeReason;

fn d(s: &str) -> Digest {
    Digest::of_bytes(s.as_bytes())
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A fixed, fully populated set of key inputs. Changing it changes the golden key.
fn fixture() -> KeyInputs {
    KeyInputs {
        task_id: TaskId::new("@acme/web", "build"),
        definition: DefinitionInputs {
            command: Some("tsc -b".into()),
            depends_on: strings(&["^build", "codegen"]),
            inputs: strings(&["$TURBO_DEFAULT$", "!README.md"]),
            outputs: strings(&["dist/**"]),
            env: strings(&["NODE_ENV", "NEXT_PUBLIC_*"]),
            pass_through_env: strings(&["AWS_PROFILE"]),
            cache: true,
            persistent: false,
            env_mode: "strict".into(),
            inferred_env: strings(&["VITE_*"]),
            global_pass_through_env: strings(&["HOME"]),
            args: strings(&["--prod"]),
        },
        files: vec![
            ("package.json".into(), d("{}")),
            ("src/index.ts".into(), d("export {}")),
        ],
        dependencies: vec![(TaskId::new("@acme/ui", "build"), TaskKey::from(d("ui key")))],
        env: vec![(
            "NODE_ENV".into(),
            crate::env_value_digest(Some("production")),
        )],
        global: global_digest(&[("tsconfig.json".into(), d("{}"))], &[]),
        external: [
            ("react".to_string(), "18.2.0".to_string()),
            ("lodash".to_string(), "4.17.21".to_string()),
        ]
        .into_iter()
        .collect(),
        platform: Platform {
            os: "linux".into(),
            arch: "x86_64".into(),
        },
    }
}

/// If this fails, every key kiln ever wrote changed. That is allowed only together with a
/// bump of KEY_FORMAT_VERSION (and then this constant is updated on purpose).
#[test]
fn golden_key_of_a_fixed_input_never_changes_by_accident() {
    assert_eq!(
        fixture().key().to_string(),
        "cd1b61ce4fc156a240f521c681fd3bc798527ef0d49987db6252a521085746f2"
    );
}

#[test]
fn the_same_inputs_give_the_same_key_in_any_order() {
    let a = fixture();
    let mut b = fixture();
    b.files.reverse();
    b.definition.depends_on.reverse();
    b.definition.outputs.push("dist/**".into());
    b.dependencies.push(b.dependencies[0].clone());
    assert_eq!(a.key(), b.key());
    assert_eq!(a.key(), fixture().key());
}

#[test]
fn every_single_input_changes_the_key() {
    type Mutation = (&'static str, fn(&mut KeyInputs));
    let mutations: &[Mutation] = &[
        ("package", |k| {
            k.task_id = TaskId::new("@acme/docs", "build")
        }),
        ("task", |k| k.task_id = TaskId::new("@acme/web", "test")),
        ("command", |k| k.definition.command = Some("tsc".into())),
        ("no command", |k| k.definition.command = None),
        ("depends_on", |k| {
            k.definition.depends_on.pop().map(drop).unwrap_or(())
        }),
        ("inputs order", |k| k.definition.inputs.reverse()),
        ("outputs", |k| k.definition.outputs.push("lib/**".into())),
        ("env list", |k| k.definition.env.push("CI".into())),
        ("pass_through_env", |k| {
            k.definition.pass_through_env.clear()
        }),
        ("cache", |k| k.definition.cache = false),
        ("persistent", |k| k.definition.persistent = true),
        ("env mode", |k| k.definition.env_mode = "loose".into()),
        ("inferred env", |k| k.definition.inferred_env.clear()),
        ("global pass-through", |k| {
            k.definition.global_pass_through_env.push("CI".into())
        }),
        ("args", |k| k.definition.args.push("--watch".into())),
        ("args order", |k| {
            k.definition.args = strings(&["--watch", "--prod"]);
        }),
        ("file content", |k| k.files[1].1 = d("export const a = 1")),
        ("file renamed", |k| k.files[1].0 = "src/main.ts".into()),
        ("file added", |k| k.files.push(("src/b.ts".into(), d("b")))),
        ("file removed", |k| drop(k.files.pop())),
        ("dependency key", |k| {
            k.dependencies[0].1 = TaskKey::from(d("other"))
        }),
        ("dependency added", |k| {
            k.dependencies
                .push((TaskId::new("@acme/x", "build"), TaskKey::from(d("x"))))
        }),
        ("env value", |k| {
            k.env[0].1 = crate::env_value_digest(Some("development"))
        }),
        ("env unset", |k| k.env[0].1 = crate::env_value_digest(None)),
        ("env added", |k| {
            k.env
                .push(("CI".into(), crate::env_value_digest(Some("1"))))
        }),
        ("global", |k| k.global = d("other global")),
        ("external version", |k| {
            k.external.insert("react".into(), "18.3.1".into());
        }),
        ("external added", |k| {
            k.external.insert("left-pad".into(), "1.3.0".into());
        }),
        ("os", |k| k.platform.os = "macos".into()),
        ("arch", |k| k.platform.arch = "aarch64".into()),
    ];
    let base = fixture().key();
    let mut seen = std::collections::HashSet::from([base]);
    for (what, mutate) in mutations {
        let mut inputs = fixture();
        mutate(&mut inputs);
        assert!(
            seen.insert(inputs.key()),
            "changing the {what} did not change the key"
        );
    }
}

#[test]
fn a_file_name_and_its_content_cannot_trade_bytes() {
    let mut a = fixture();
    a.files = vec![("ab".into(), d("x"))];
    let mut b = fixture();
    b.files = vec![("a".into(), d("x"))];
    assert_ne!(a.key(), b.key());
}

#[test]
fn task_keys_print_and_parse_as_64_hex_characters() {
    let key = fixture().key();
    let text = key.to_string();
    assert_eq!(text.len(), 64);
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(text.parse::<TaskKey>().unwrap(), key);
    assert_eq!(serde_json::to_string(&key).unwrap(), format!("\"{text}\""));
}

#[test]
fn an_unchanged_manifest_has_no_reasons_and_survives_json() {
    let m = fixture().manifest();
    assert_eq!(m.key, fixture().key());
    assert!(m.diff(&fixture().manifest()).is_empty());
    let json = serde_json::to_string_pretty(&m).unwrap();
    assert!(
        !json.contains("production"),
        "an env value leaked into the manifest"
    );
    let back: InputManifest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
}

#[test]
fn manifest_diff_names_every_change_most_general_first() {
    let old = fixture();
    let mut new = fixture();
    new.definition.command = Some("tsc -b --force".into());
    new.external.insert("react".into(), "18.3.1".into());
    new.external.remove("lodash");
    new.external.insert("zod".into(), "3.0.0".into());
    new.global = d("new global");
    new.dependencies[0].1 = TaskKey::from(d("new ui key"));
    new.dependencies
        .push((TaskId::new("@acme/icons", "build"), TaskKey::from(d("i"))));
    new.env[0].1 = crate::env_value_digest(Some("test"));
    new.env
        .push(("CI".into(), crate::env_value_digest(Some("true"))));
    new.files[1].1 = d("changed");
    new.files.remove(0);
    new.files.push(("src/new.ts".into(), d("new")));
    new.platform.arch = "aarch64".into();

    let reasons = old.manifest().diff(&new.manifest());
    assert_eq!(
        reasons,
        [
            ChangeReason::PlatformChanged {
                from: old.platform.clone(),
                to: new.platform.clone()
            },
            ChangeReason::DefinitionChanged,
            ChangeReason::GlobalChanged,
            ChangeReason::ExternalRemoved {
                name: "lodash".into(),
                version: "4.17.21".into()
            },
            ChangeReason::ExternalChanged {
                name: "react".into(),
                from: "18.2.0".into(),
                to: "18.3.1".into()
            },
            ChangeReason::ExternalAdded {
                name: "zod".into(),
                version: "3.0.0".into()
            },
            ChangeReason::DependencyAdded {
                task: TaskId::new("@acme/icons", "build")
            },
            ChangeReason::DependencyChanged {
                task: TaskId::new("@acme/ui", "build")
            },
            ChangeReason::EnvAdded { name: "CI".into() },
            ChangeReason::EnvChanged {
                name: "NODE_ENV".into()
            },
            ChangeReason::FileRemoved {
                path: "package.json".into()
            },
            ChangeReason::FileModified {
                path: "src/index.ts".into()
            },
            ChangeReason::FileAdded {
                path: "src/new.ts".into()
            },
        ]
    );
    assert_eq!(reasons[11].to_string(), "`src/index.ts` changed");
    assert_eq!(
        reasons[4].to_string(),
        "external dependency `react` 18.2.0 → 18.3.1"
    );
    // And back: what was added is now removed.
    let back = new.manifest().diff(&old.manifest());
    assert!(back.contains(&ChangeReason::DependencyRemoved {
        task: TaskId::new("@acme/icons", "build")
    }));
    assert!(back.contains(&ChangeReason::EnvRemoved { name: "CI".into() }));
}

#[test]
fn a_key_format_change_is_a_reason_of_its_own() {
    let old = fixture().manifest();
    let mut new = fixture().manifest();
    new.key_format += 1;
    assert_eq!(
        old.diff(&new),
        [ChangeReason::KeyFormatChanged {
            from: KEY_FORMAT_VERSION,
            to: KEY_FORMAT_VERSION + 1
        }]
    );
}

#[test]
fn global_digest_separates_files_from_env() {
    let item = [("X".to_string(), d("1"))];
    assert_ne!(global_digest(&item, &[]), global_digest(&[], &item));
}
