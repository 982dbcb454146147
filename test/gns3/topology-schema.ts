// Our JSON schema of a GNS3 2.2 project file (topology format revision 9), written from GNS3's
// documented format to check `livmap gns3` output as strictly as GNS3 does: every object refuses
// keys it does not know, `drawings` and `computes` are required, and a Docker node's
// `properties` must be what GNS3 2.2 accepts when it creates the container (image, adapters, ...).
const uuid = { type: 'string', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' } as const;
const mac = { type: 'string', pattern: '^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$' } as const;
const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
const rotation = { type: 'integer', minimum: -359, maximum: 360 } as const;

const label = {
  type: 'object',
  additionalProperties: false,
  required: ['text'],
  properties: {
    text: { type: 'string' },
    style: { type: ['string', 'null'] },
    x: { type: ['integer', 'null'] },
    y: { type: 'integer' },
    rotation,
  },
} as const;

const dockerProperties = {
  type: 'object',
  additionalProperties: false,
  required: ['image', 'adapters'],
  properties: {
    adapters: { type: ['integer', 'null'], minimum: 0, maximum: 99 },
    aux: { anyOf: [port, { type: 'null' }] },
    console: { anyOf: [port, { type: 'null' }] },
    console_http_path: { type: 'string' },
    console_http_port: { type: 'integer' },
    console_resolution: { type: ['string', 'null'], pattern: '^[0-9]+x[0-9]+$' },
    console_type: { enum: ['telnet', 'vnc', 'http', 'https', 'none'] },
    container_id: { type: 'string', pattern: '^[a-f0-9]{12,64}$' },
    custom_adapters: { $ref: '#/$defs/customAdapters' },
    environment: { type: ['string', 'null'] },
    extra_hosts: { type: ['string', 'null'] },
    extra_volumes: { type: 'array', items: { type: 'string', pattern: '^/' } },
    image: { type: 'string', minLength: 1 },
    mac_address: { anyOf: [mac, { type: 'null' }] },
    name: { type: 'string', minLength: 1 },
    node_id: uuid,
    start_command: { type: ['string', 'null'] },
    usage: { type: 'string' },
  },
} as const;

const node = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'node_type', 'compute_id'],
  properties: {
    compute_id: { type: 'string' },
    project_id: uuid,
    node_id: uuid,
    template_id: { anyOf: [uuid, { type: 'null' }] },
    node_type: {
      enum: ['cloud', 'nat', 'ethernet_hub', 'ethernet_switch', 'frame_relay_switch', 'atm_switch', 'docker', 'dynamips', 'vpcs', 'traceng', 'virtualbox', 'vmware', 'iou', 'qemu'],
    },
    node_directory: { type: ['string', 'null'] },
    command_line: { type: ['string', 'null'] },
    name: { type: 'string', minLength: 1 },
    console: { anyOf: [port, { type: 'null' }] },
    console_host: { type: 'string', minLength: 1 },
    console_type: { enum: ['vnc', 'telnet', 'http', 'https', 'spice', 'spice+agent', 'none', null] },
    console_auto_start: { type: 'boolean' },
    properties: { type: 'object' },
    status: { enum: ['stopped', 'started', 'suspended'] },
    label,
    symbol: { type: ['string', 'null'], minLength: 1 },
    width: { type: 'integer' },
    height: { type: 'integer' },
    x: { type: 'integer' },
    y: { type: 'integer' },
    z: { type: 'integer' },
    locked: { type: 'boolean' },
    port_name_format: { type: 'string' },
    port_segment_size: { type: 'integer', minimum: 0 },
    first_port_name: { type: ['string', 'null'] },
    custom_adapters: { $ref: '#/$defs/customAdapters' },
    ports: { type: 'array' },
  },
  // What GNS3 2.2 needs to create a Docker container from the node.
  if: { properties: { node_type: { const: 'docker' } } },
  then: { required: ['node_id', 'properties'], properties: { node_id: uuid, properties: dockerProperties } },
} as const;

const link = {
  type: 'object',
  additionalProperties: false,
  properties: {
    link_id: uuid,
    project_id: uuid,
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['node_id', 'adapter_number', 'port_number'],
        properties: { node_id: uuid, adapter_number: { type: 'integer' }, port_number: { type: 'integer' }, label },
      },
    },
    suspend: { type: 'boolean' },
    link_style: { type: 'object' },
    filters: { type: 'object' },
    capturing: { type: 'boolean' },
    capture_file_name: { type: ['string', 'null'] },
    capture_file_path: { type: ['string', 'null'] },
    capture_compute_id: { type: ['string', 'null'] },
    link_type: { enum: ['ethernet', 'serial'] },
  },
} as const;

const drawing = {
  type: 'object',
  additionalProperties: false,
  properties: {
    drawing_id: uuid,
    project_id: uuid,
    x: { type: 'integer' },
    y: { type: 'integer' },
    z: { type: 'integer' },
    locked: { type: 'boolean' },
    rotation,
    svg: { type: 'string' },
  },
} as const;

const compute = {
  type: 'object',
  additionalProperties: false,
  required: ['compute_id', 'protocol', 'host', 'port', 'name'],
  properties: {
    compute_id: { type: 'string' },
    name: { type: 'string' },
    protocol: { enum: ['http', 'https'] },
    host: { type: 'string' },
    port: { type: 'integer' },
    user: { type: ['string', 'null'] },
    connected: { type: 'boolean' },
    cpu_usage_percent: { type: ['number', 'null'] },
    memory_usage_percent: { type: ['number', 'null'] },
    last_error: { type: ['string', 'null'] },
    capabilities: { type: 'object' },
  },
} as const;

export const GNS3_TOPOLOGY_SCHEMA = {
  $id: 'livmap:gns3-2.2-topology',
  type: 'object',
  additionalProperties: false,
  required: ['project_id', 'type', 'revision', 'version', 'name', 'topology'],
  $defs: {
    customAdapters: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['adapter_number'],
        properties: { adapter_number: { type: 'integer' }, port_name: { type: 'string', minLength: 1 }, adapter_type: { type: 'string', minLength: 1 }, mac_address: mac },
      },
    },
  },
  properties: {
    project_id: uuid,
    type: { const: 'topology' },
    // GNS3 2.2 writes revision 9, upgrades older files and refuses newer ones.
    revision: { const: 9 },
    version: { type: 'string', pattern: '^2\\.2\\.' },
    name: { type: 'string' },
    auto_start: { type: 'boolean' },
    auto_close: { type: 'boolean' },
    auto_open: { type: 'boolean' },
    scene_height: { type: 'integer' },
    scene_width: { type: 'integer' },
    zoom: { type: 'integer' },
    show_layers: { type: 'boolean' },
    snap_to_grid: { type: 'boolean' },
    show_grid: { type: 'boolean' },
    grid_size: { type: 'integer' },
    drawing_grid_size: { type: 'integer' },
    show_interface_labels: { type: 'boolean' },
    supplier: { type: ['object', 'null'], properties: { logo: { type: 'string' }, url: { type: 'string' } } },
    variables: { type: ['array', 'null'], items: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 }, value: { type: 'string' } } } },
    topology: {
      type: 'object',
      additionalProperties: false,
      required: ['nodes', 'links', 'drawings', 'computes'],
      properties: {
        computes: { type: 'array', items: compute },
        drawings: { type: 'array', items: drawing },
        links: { type: 'array', items: link },
        nodes: { type: 'array', items: node },
      },
    },
  },
} as const;
