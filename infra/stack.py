"""The CRM Custody stack: the constructs of `infra.constructs`, composed."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Stack, Tags
from constructs import Construct

from custody.declared import datamap, naming
from custody.declared.datamap import Erasure
from infra.access import ACCESS
from infra.config import CustodyConfig
from infra.constructs.admission import ErasureAdmission
from infra.constructs.api import Api
from infra.constructs.audit import Audit
from infra.constructs.auditor import Auditor
from infra.constructs.backup import Backup
from infra.constructs.data import Data
from infra.constructs.functions import Functions, Wiring
from infra.constructs.identity import Identity
from infra.constructs.keys import Keys
from infra.constructs.lifecycle import CreationBarrier
from infra.constructs.monitoring import Monitoring
from infra.constructs.notices import NoticeTemplates
from infra.constructs.notifications import ProcessorNotifications
from infra.constructs.retention import RetentionSchedule
from infra.constructs.web import Web
from infra.constructs.workflow import Workflow, erasure_state_machine_arn

ERASURE_STEPS = "erasure_steps"
RETENTION = "retention"
STAFF_TOKENS = "staff_tokens"
PROCESSORS = "processors"
PROCESSOR_RELAY = naming.PROCESSOR_RELAY
# The relay retries a request for about four hours before the dead-letter queue: a request older than a
# day on the queue means the relay itself is not consuming it (disabled mapping, throttled, broken).
UNDELIVERED_AFTER = Duration.hours(24)


class CustodyStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: CustodyConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("custody:system", config.prefix)
        # CDK's Function and StateMachine add a DependsOn on their role next to the GetAtt of its
        # ARN; cfn-lint's W3005 flags that redundancy, which is harmless.
        self.template_options.metadata = {"cfn-lint": {"config": {"ignore_checks": ["W3005"]}}}
        qualifier = f"{Aws.ACCOUNT_ID}-{Aws.REGION}"
        self.barrier = CreationBarrier(self, "CreationBarrier")

        self.keys = Keys(self, "Keys", config=config)
        self.data = Data(self, "Data", config=config, data_key=self.keys.data, qualifier=qualifier)
        personal_tables = [self.data.tables[store.name] for store in datamap.table_stores()]
        personal_buckets = [self.data.buckets[store.name] for store in datamap.bucket_stores()]
        self.audit = Audit(
            self,
            "Audit",
            config=config,
            audit_key=self.keys.audit,
            access_logs=self.data.access_logs,
            qualifier=qualifier,
            tables=personal_tables,
            buckets=personal_buckets,
        )
        self.monitoring = Monitoring(self, "Monitoring", config=config, key=self.keys.operations)
        self.identity = Identity(self, "Identity", config=config)
        self.notice_templates = NoticeTemplates(self, "NoticeTemplates", config=config)
        self.notifications = ProcessorNotifications(
            self, "ProcessorNotifications", config=config, key=self.keys.operations
        )
        self.admission = ErasureAdmission(self, "ErasureAdmission", config=config, key=self.keys.operations)
        self.functions = Functions(
            self,
            "Functions",
            wiring=Wiring(
                config=config,
                qualifier=qualifier,
                keys=self.keys,
                data=self.data,
                audit=self.audit,
                identity=self.identity,
                alarm_topic_arn=self.monitoring.topic.topic_arn,
                erasure_state_machine_arn=erasure_state_machine_arn(config),
                processor_queue=self.notifications.queue,
                admission_queue=self.admission.queue,
            ),
        )
        self.notifications.relay_with(self.functions[PROCESSOR_RELAY])
        self.admission.admit_with(self.functions[naming.ERASURE_ADMISSION])
        outcomes = self.functions.deployed[naming.ERASURE_OUTCOMES]
        self.admission.watch_endings(erasure_state_machine_arn(config), outcomes.function, outcomes.dead_letters)
        self.identity.add_staff_token_trigger(self.functions[STAFF_TOKENS])
        self.keys.keep_off_audit_key(
            data_roles=[deployed.role for deployed in self.functions.deployed.values()],
            ledger_writers=[
                self.functions.deployed[name].role for name, access in ACCESS.items() if access.writes_ledger
            ],
            ledger_reviewers=[
                self.functions.deployed[name].role for name, access in ACCESS.items() if access.reviews_audit
            ],
        )
        self.keys.seal_and_check_only(
            sealer=self.functions.deployed[ERASURE_STEPS].role, checker=self.functions.deployed[PROCESSORS].role
        )
        self.workflow = Workflow(
            self,
            "Workflow",
            config=config,
            steps=self.functions[ERASURE_STEPS],
            alarm_topic=self.monitoring.topic,
            alarm_key=self.keys.operations,
            log_key=self.keys.operations,
        )
        self.api = Api(
            self,
            "Api",
            config=config,
            identity=self.identity,
            handlers=lambda name: self.functions[name],
            log_key=self.keys.operations,
        )
        self.web = Web(
            self,
            "Web",
            config=config,
            rest_api=self.api.rest_api,
            identity=self.identity,
            access_logs=self.data.access_logs,
            log_key=self.keys.operations,
        )
        shredded = {store.name for store in datamap.table_stores() if store.erasure is Erasure.SHRED}
        self.auditor = Auditor(
            self.audit,
            "Auditor",
            config=config,
            audit=self.audit,
            data_key=self.keys.data,
            chains=self.data.tables["audit_chains"],
            requests=self.data.tables["requests"],
            erasure_ledger=self.data.tables["erasure_ledger"],
            state_machine_arn=erasure_state_machine_arn(config),
        )
        self.backup = Backup(
            self,
            "Backup",
            config=config,
            key=self.keys.data,
            tables={name: table for name, table in self.data.tables.items() if name not in shredded},
        )
        retention = self.functions.deployed[RETENTION]
        self.retention = RetentionSchedule(
            self,
            "Retention",
            config=config,
            function=retention.function,
            dead_letters=retention.dead_letters,
            dead_letter_key=self.keys.operations,
        )
        self._outputs()
        self.monitoring.watch_workflow(self.workflow.state_machine)
        self.monitoring.watch_erasure_sla(config)
        self.monitoring.watch_requests(config, [name for name, access in ACCESS.items() if access.sends_notices])
        self.monitoring.dashboard(config, self.workflow.state_machine)
        self.monitoring.watch_api(self.api.rest_api)
        for name, deployed in self.functions.deployed.items():
            self.monitoring.watch_function(name, deployed.function)
            if deployed.dead_letters is not None:
                self.monitoring.watch_dead_letters(name, deployed.dead_letters)
        self.monitoring.watch_dead_letters("processor_notifications", self.notifications.dead_letters)
        self.monitoring.watch_undelivered(self.notifications.queue, UNDELIVERED_AFTER)
        self.monitoring.watch_dead_letters("erasure_admissions", self.admission.dead_letters)
        self.monitoring.watch_admission(self.admission.queue, config)
        self._create_writers_last()

    def _create_writers_last(self) -> None:
        """What writes data CloudFormation cannot remove comes last (infra.constructs.lifecycle)."""
        access_log_policy = self.data.access_logs.policy
        assert access_log_policy is not None  # enforce_ssl and S3's log delivery made it
        self.barrier.hold(
            self.audit.trail,
            self.audit.ledger_writers,
            self.backup.selection,
            access_log_policy,
            self.web.site_writer,  # the site's objects into its bucket
        )
        self.barrier.close()

    def _outputs(self) -> None:
        for name, value in {
            "ApiUrl": self.api.rest_api.url,
            "SiteUrl": self.web.site_url,
            "CustomerUserPoolId": self.identity.customers.user_pool_id,
            "CustomerClientId": self.identity.customer_client.user_pool_client_id,
            "StaffUserPoolId": self.identity.staff.user_pool_id,
            "StaffClientId": self.identity.staff_client.user_pool_client_id,
            "ProcessorUserPoolId": self.identity.processors.user_pool_id,
            "ErasureStateMachineArn": self.workflow.state_machine.state_machine_arn,
            "AuditBucketName": self.audit.bucket.bucket_name,
            "AuditorRoleArn": self.auditor.role.role_arn,
            "AlarmTopicArn": self.monitoring.topic.topic_arn,
        }.items():
            CfnOutput(self, name, value=value)
