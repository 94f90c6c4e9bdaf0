package postgres

import (
	"context"
	"encoding/json"

	"github.com/cloud-compose/cloud-compose-go/internal/state"
)

var _ state.GroupStore = (*backend)(nil)

// PutGroupMembers writes g as the row of its group (an upsert: writers of
// different groups touch different rows; of one group, the last wins).
func (b *backend) PutGroupMembers(ctx context.Context, key state.Key, g state.GroupMembers) error {
	if g.Group == "" {
		return b.errorf(nil, "group members %s: no group name", key)
	}
	data, err := json.Marshal(g)
	if err != nil {
		return b.errorf(err, "group members %s", key)
	}
	_, err = b.pool.Exec(ctx, `INSERT INTO cloud_compose_groups (cluster, env, name, data)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (cluster, env, name) DO UPDATE SET data = excluded.data`,
		key.Cluster, key.Env, g.Group, string(data))
	if err != nil {
		return b.errorf(err, "group members %s: writing group %s", key, g.Group)
	}
	return nil
}

// GroupMembers returns every group's row, by name in byte order (COLLATE
// "C": the database's collation may order otherwise, and the other
// backends sort as Go does).
func (b *backend) GroupMembers(ctx context.Context, key state.Key) ([]state.GroupMembers, error) {
	rows, err := b.pool.Query(ctx, `SELECT data::text FROM cloud_compose_groups
		WHERE cluster = $1 AND env = $2 ORDER BY name COLLATE "C"`, key.Cluster, key.Env)
	if err != nil {
		return nil, b.errorf(err, "group members %s", key)
	}
	gs, err := scanJSON[state.GroupMembers](rows)
	if err != nil {
		return nil, b.errorf(err, "group members %s", key)
	}
	if gs == nil {
		gs = []state.GroupMembers{}
	}
	return gs, nil
}
