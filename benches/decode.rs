//! Decoding VPSie answers at 1x, 10x and 100x of a base size: the `GET /vm` list the client
//! reads for every shared VM snapshot (one page of up to 100 VPS is what the API returns; the
//! 100x case is a whole account of 1,000 VPS in one body, the cost of a full listing), and the
//! `GET /offerings` catalogue.
//!
//! `cargo bench --bench decode`. Bodies are the wire shape the simulated cloud answers
//! (`VmRecord::to_wire`); criterion reports bytes per second.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};
use vpsie_autoscaler::cloud::decode::{decode_list, ErrorContext, Reply};
use vpsie_autoscaler::cloud::{Offering, Operation, Vps};

fn vps(i: usize) -> Value {
    let group = i % 50;
    json!({
        "id": 100_000 + i,
        "identifier": format!("6f1c2d3e-{:04x}-4a5b-8c9d-{:012x}", i % 65_536, i),
        "name": format!("g{group:02}-{i:05}"),
        "hostname": format!("g{group:02}-{i:05}"),
        "status": if i.is_multiple_of(7) { "creating" } else { "running" },
        "cpu": 4, "ram": 8192, "ssd": 160, "traffic": 3000,
        "default_ip": format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255),
        "default_ipv6": format!("2001:db8::{:x}", i),
        "boxsize_id": 103,
        "offering_id": "medium-4cpu-8gb",
        "datacenter_id": "dc-us-east-1",
        "os_image_id": "ubuntu-22.04-lts",
        "os_name": "Ubuntu",
        "os_version": "22.04",
        "created_on": "2026-11-20 10:00:00",
        "last_updated": "2026-11-20 10:00:30",
        "tags": ["autoscaled", "vpsie-autoscaler", "cluster:bench",
                 format!("nodegroup:g{group:02}"), format!("vpsienode:g{group:02}-{i:05}")],
        "notes": format!("Node of NodeGroup kube-system/g{group:02} (cluster bench), managed by vpsie-autoscaler"),
    })
}

fn list_body(n: usize) -> Vec<u8> {
    let data: Vec<Value> = (0..n).map(vps).collect();
    serde_json::to_vec(&json!({
        "data": data,
        "pagination": {"total": n, "count": n, "per_page": n.max(1), "current_page": 1, "total_pages": 1}
    }))
    .expect("body")
}

fn reply(body: Vec<u8>) -> Reply {
    Reply {
        status: 200,
        request_id: Some("req-1".into()),
        retry_after: None,
        body,
    }
}

fn bench_list_vms(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_list_vms");
    group.sample_size(30);
    let ctx = ErrorContext::new(Operation::ListVMs);
    for n in [10usize, 100, 1_000] {
        let r = reply(list_body(n));
        let list = decode_list::<Vps>(&ctx, &r).expect("decodes");
        assert_eq!(list.data.len(), n);
        group.throughput(Throughput::Bytes(r.body.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{n}vps")),
            &r,
            |b, r| b.iter(|| decode_list::<Vps>(&ctx, r).map(|l| l.data.len())),
        );
    }
    group.finish();
}

fn bench_offerings(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_offerings");
    group.sample_size(30);
    let ctx = ErrorContext::new(Operation::ListOfferings);
    for n in [10usize, 100, 1_000] {
        let data: Vec<Value> = (0..n)
            .map(|i| {
                let cpu = 1 << (i % 5);
                json!({"id": format!("o-{i}"), "boxsize_id": 100 + i, "name": format!("{cpu} vCPU / {} GB", 2 * cpu),
                       "cpu": cpu, "ram": 2048 * cpu, "disk": 40 * cpu, "bandwidth": 1000 * cpu, "available": true,
                       "price": 9.0 * cpu as f64, "hourly_price": 0.0125 * cpu as f64,
                       "category": "standard", "datacenter_id": "dc-us-east-1"})
            })
            .collect();
        let body = serde_json::to_vec(&json!({"data": data})).expect("body");
        let r = reply(body);
        let list = decode_list::<Offering>(&ctx, &r).expect("decodes");
        assert_eq!(list.data.len(), n);
        group.throughput(Throughput::Bytes(r.body.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{n}offerings")),
            &r,
            |b, r| b.iter(|| decode_list::<Offering>(&ctx, r).map(|l| l.data.len())),
        );
    }
    group.finish();
}

criterion_group!(benches, bench_list_vms, bench_offerings);
criterion_main!(benches);
