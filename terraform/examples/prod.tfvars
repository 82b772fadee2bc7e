# terraform plan -var-file=examples/prod.tfvars
region             = "us-east-1"
environment        = "prod"
availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
shards             = 64

node_instance_types = ["c6i.2xlarge"]
node_min            = 3
node_max            = 12

kafka_broker_instance_type = "kafka.m5.large"
kafka_broker_volume_gb     = 500
kafka_retention_hours      = 168

redis_node_type               = "cache.r7g.large"
redis_shards                  = 3
redis_replicas_per_shard      = 1
redis_snapshot_retention_days = 7
