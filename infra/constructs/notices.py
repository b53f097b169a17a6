"""The notices' SES templates, one per `custody.declared.notices.TEMPLATES` entry, and who may send them.

Each template is an `AWS::SES::Template` named `naming.notice_template_name(prefix, kind)`, its
subject, text and HTML parts exactly as declared (the local stack creates the same ones through
`CreateTemplate`). A function sends only the notices `infra.access` lists for it
(`Access.sends_notices`): `ses:SendTemplatedEmail` on the sender's identities (the address and its
domain: SES authorizes a send against whichever is verified) and on those templates' ARNs — both
resource types the action requires (Service Authorization Reference, Amazon SES).
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Annotations, Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from constructs import Construct

from custody.declared import naming
from custody.declared.notices import TEMPLATES, NoticeKind
from infra.config import CustodyConfig

NO_NOTICE_SENDER = "custody:noNoticeSender"


class NoticeTemplates(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CustodyConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        if not (config.notice_sender or config.ses_from_email):
            Annotations.of(self).add_warning_v2(
                NO_NOTICE_SENDER,
                f"Notices to customers go from {config.notice_from}, which nobody can verify: set custody:noticeSender "
                "(or custody:sesFromEmail) to an SES-verified address, or every notice fails (docs/deadlines.md).",
            )
        self.templates: dict[NoticeKind, ses.CfnTemplate] = {
            kind: ses.CfnTemplate(
                self,
                "".join(part.title() for part in kind.value.split("_")),
                template=ses.CfnTemplate.TemplateProperty(
                    template_name=naming.notice_template_name(config.prefix, kind.value),
                    subject_part=template.subject,
                    text_part=template.text,
                    html_part=template.html,
                ),
            )
            for kind, template in TEMPLATES.items()
        }


def send_statement(config: CustodyConfig, kinds: Iterable[NoticeKind]) -> iam.PolicyStatement:
    """`ses:SendTemplatedEmail` from the notice sender's identities with exactly these notices' templates."""
    base = f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    identities = [f"{base}:identity/{name}" for name in naming.sender_identities(config.notice_from)]
    templates = [f"{base}:template/{naming.notice_template_name(config.prefix, kind.value)}" for kind in sorted(kinds)]
    return iam.PolicyStatement(actions=["ses:SendTemplatedEmail"], resources=[*identities, *templates])
