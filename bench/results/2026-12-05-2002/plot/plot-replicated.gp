set terminal pngcairo size 1600,600 font "DejaVu Sans,10"
set output "../plot-replicated.png"
set multiplot layout 1,3 title "Milena vs Apache Kafka 4.1.2, 3-node clusters, RF 3, acks=all: 2026-12-05-2002\n{/*0.7 all three nodes of a cluster on cpu 0, clients on cpu 1; medians over rounds}" font ",13"
set grid ytics
set key top right
set style fill solid 0.8 border -1
set style data histograms
set xtics nomirror
set title "Produce throughput, 1 KiB records (MB/s)"
set style histogram clustered gap 1
set yrange [0:*]
plot "repl-throughput.dat" u 2:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 3 t "Kafka" lc rgb "#d95f02"
set title "Produce latency at a fixed rate (ms, kafka-producer-perf-test)"
set key top left
set logscale y
set yrange [0.5:*]
plot "repl-latency.dat" u 2:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 3 t "Kafka" lc rgb "#d95f02"
unset logscale y
set title "Failover: kill -9 -> first ack on the new leader (s; bars min-max)"
set xlabel "broker.session.timeout.ms / broker.heartbeat.interval.ms"
set style histogram errorbars gap 1 lw 1
set yrange [0:*]
plot "repl-failover.dat" u 2:3:4:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 5:6:7 t "Kafka" lc rgb "#d95f02"
unset multiplot
