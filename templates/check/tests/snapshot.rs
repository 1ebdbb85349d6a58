//! Golden snapshot of the backend template: any change to a parameter, condition, resource or
//! output shows up as a snapshot diff to review.

use templates_check::Template;

#[test]
fn backend_template_snapshot() {
    let template = Template::backend().unwrap();
    let document = template.document();
    for section in ["Parameters", "Rules", "Conditions", "Resources", "Outputs"] {
        let value = document
            .get(section)
            .unwrap_or_else(|| panic!("backend template has no {section} section"));
        insta::assert_yaml_snapshot!(format!("backend-{section}"), value);
    }
}
