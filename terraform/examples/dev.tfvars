# terraform plan -var-file=examples/dev.tfvars: the smallest cluster that runs every piece.
region             = "us-east-1"
environment        = "dev"
availability_zones = ["us-east-1a", "us-east-1b"]
shards             = 8

node_instance_types = ["t3.large"]
node_min            = 1
node_max            = 2

kafka_broker_instance_type = "kafka.t3.small"
kafka_broker_volume_gb     = 50
kafka_retention_hours      = 24

redis_node_type               = "cache.t4g.small"
redis_shards                  = 1
redis_replicas_per_shard      = 0
redis_snapshot_retention_days = 1
k8s_namespace                 = "leadpoet-dev"
k8s_service_accounts          = ["leadpoet"]
